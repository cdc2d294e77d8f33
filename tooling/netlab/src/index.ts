export { hasProgram, LabCommandError } from './commands.js'
export {
  buildLab,
  LAB_ADDRESSES,
  LAB_PREFIX,
  type Lab,
  type LabHost,
  type LabOptions,
  labUnavailableReason,
  sweepStaleLabs,
} from './lab.js'
