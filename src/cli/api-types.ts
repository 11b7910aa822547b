// The API's types as the CLI sends and receives them (docs/api.md). They are the
// service's own, imported as types only: nothing of the service is loaded.
import type { VmRecord, VmInput, VmPatch } from '../mgmt/vm-record.js';

export type { VmState } from '../mgmt/lifecycle.js';
/** A VM as the API returns it (docs/api.md, "VM"). */
export type ApiVm = VmRecord;
/** The body of POST /api/vms. */
export type VmCreateBody = VmInput;
/** The body of PATCH /api/vms/{vm}. */
export type VmPatchBody = VmPatch & { name?: string };
