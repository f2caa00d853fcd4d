export { type PreparedRun, RunService } from './run.service';
export { StreamWriter, abortOnDisconnect, nsSince } from './stream-writer';
export { type StreamFormat, collect, exchangeOf, primed, sendJson, streamReply } from './pipeline';
export { Meter, MeteringService, callerOf } from './metering';
export {
  type Admission,
  type AdmitRequest,
  QUOTA_GATE,
  type QuotaGate,
  type QuotaRefusal,
} from './quota-gate';
export { ServingModule } from './serving.module';
