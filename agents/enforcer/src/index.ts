export { Agent, EnrollmentRefused, type AgentOptions } from './agent.js';
export { loadCredential, saveCredential, StoredCredential } from './credential.js';
export { collectNodeInfo, parseOsRelease, scanRuntime } from './nodeInfo.js';
