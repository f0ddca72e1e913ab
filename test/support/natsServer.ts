// The nats-server starter lives with the chaos runs, which a product command uses; tests keep this path.
export { natsServerBinary, startNatsServer, type NatsServer } from '../../cluster/chaos/natsServer.js';
