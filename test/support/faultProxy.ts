export { FaultProxy } from '../../cluster/chaos/faultProxy.js';
