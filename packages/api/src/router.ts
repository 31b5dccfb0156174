import { authRouter } from './routers/auth.js';
import { clustersRouter } from './routers/clusters.js';
import { nodesRouter } from './routers/nodes.js';
import { systemRouter } from './routers/system.js';
import { vulnerabilitiesRouter } from './routers/vulnerabilities.js';
import { router } from './trpc.js';

export const appRouter = router({
  auth: authRouter,
  clusters: clustersRouter,
  nodes: nodesRouter,
  system: systemRouter,
  vulnerabilities: vulnerabilitiesRouter,
});

export type AppRouter = typeof appRouter;
