export { Agent, type AgentOptions, EnrollmentRefused } from './agent.js';
export { loadCredential, StoredCredential, saveCredential } from './credential.js';
export { AGENT_NODE_FLAGS } from './nodeFlags.js';
export { collectNodeInfo, parseOsRelease, scanRuntime } from './nodeInfo.js';
