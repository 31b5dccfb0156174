export { countBySeverity, storeReport } from './reports.js';
export { ScannerService, serve } from './service.js';
