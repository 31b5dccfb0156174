import { authRouter } from './routers/auth.js';
import { clustersRouter } from './routers/clusters.js';
import { nodesRouter } from './routers/nodes.js';
import { policyRouter } from './routers/policy.js';
import { systemRouter } from './routers/system.js';
import { vulnerabilitiesRouter } from './routers/vulnerabilities.js';
import { router } from './trpc.js';

export const appRouter = router({
  auth: authRouter,
  clusters: clustersRouter,
  nodes: nodesRouter,
  policy: policyRouter,
  system: systemRouter,
  vulnerabilities: vulnerabilitiesRouter,
});

export type AppRouter = typeof appRouter;
