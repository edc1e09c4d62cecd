import { createAgentObjects, type AgentActions, type AgentObjects } from '../../agent/objects/index.js';
import { StateStore } from '../../agent/state/state-store.js';
import { SimulatedHost } from '../../simulators/hardware/simulated-host.js';
import { testLog } from '../support/harness.js';

export interface ActionLog {
  calls: string[];
  actions: AgentActions;
}

export function recordingActions(): ActionLog {
  const calls: string[] = [];
  return {
    calls,
    actions: {
      reboot: () => calls.push('reboot'),
      factoryReset: () => calls.push('factoryReset'),
      registrationUpdate: () => calls.push('registrationUpdate'),
      disable: (s) => calls.push(`disable:${s}`),
      bootstrapRequest: () => calls.push('bootstrapRequest'),
    },
  };
}

/** An agent object tree on a simulated host with its state in `dir`. */
export function agentObjects(dir: string, actions = recordingActions().actions, host = new SimulatedHost({ serialNumber: 'SN-TEST', model: 'EDM-T', seed: 7 })): AgentObjects {
  return createAgentObjects({
    host,
    state: new StateStore(dir, testLog),
    factory: { endpoint: 'dev-1', secret: 'factory-secret-0123456789', bootstrapServerUri: 'mqtt://127.0.0.1:1883' },
    supportedBindings: 'M',
    actions,
    log: testLog,
  });
}
