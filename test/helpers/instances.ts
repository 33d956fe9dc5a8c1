export { stopDeployedVersions } from '../../src/targets/stop-deployed.js';
