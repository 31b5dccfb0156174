export { createContextFactory, type ApiDeps, type Context } from './context.js';
export { ControllerClient } from './controllerClient.js';
export { appRouter, type AppRouter } from './router.js';
export { SESSION_COOKIE } from './session.js';
export { createCallerFactory, type Meta } from './trpc.js';
export { joinCommand } from './routers/clusters.js';
