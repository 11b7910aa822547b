// What a device holds to interrupt the guest: the capability to drive one level-triggered
// line, handed out by the partition (Partition.interruptLine). Devices never see the
// interrupt controller itself (ARCHITECTURE.md "Intercept routing").

/** Raises (true) or lowers (false) the one line this capability is for. */
export type InterruptLine = (level: boolean) => void;
