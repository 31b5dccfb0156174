export { type ApiDeps, type Context, contextFor, createContextFactory } from './context.js';
export { ControllerClient } from './controllerClient.js';
export { type AppRouter, appRouter } from './router.js';
export { joinCommand } from './routers/clusters.js';
export { ScannerClient } from './scannerClient.js';
export { SESSION_COOKIE } from './session.js';
export { createCallerFactory, type Meta } from './trpc.js';
