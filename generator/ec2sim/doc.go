// Package ec2sim is an in-process EC2 (the EBS subset graft uses) on a
// virtual clock, for graft's tests, benchmarks and demo. *Sim has the
// methods of ebs.EC2 with the SDK's signatures, so SDK paginators and
// waiters run against it. It never imports generator/ebs (so the engine's
// internal tests may import it).
//
// # Model
//
// One Sim is one region of one account (Options.Region, Zones, AccountID);
// NewRegion adds a linked region on the same clock for cross-region
// CopySnapshot. State: instances, volumes (creating → available/in-use),
// snapshots (pending → completed | error, Progress "NN%" growing linearly
// over Options.SnapshotDuration, incremental when an earlier completed
// snapshot of the volume exists; copies have VolumeId "vol-ffffffff" as in
// EC2), Fast Snapshot Restore per (snapshot, zone) (enabling → optimizing →
// enabled, disabling → disabled; volume-creation credits as in EC2:
// 1024/size GiB per hour, at least 1). States are computed from the virtual
// time when read. Seeding (AddInstance, AddVolume, Attach, SeedCluster) does
// not go through the API.
//
// # Faithful to EC2
//
// Errors are *smithy.GenericAPIError (wrapped in *smithy.OperationError as
// the SDK does) with EC2's codes: InvalidVolume.NotFound,
// InvalidSnapshot.NotFound, InvalidInstanceID.NotFound/Malformed,
// InvalidParameterValue (bad ids, ranges, unknown filters, MaxResults
// range), InvalidParameterCombination, InvalidParameterDependency,
// MissingParameter, InvalidZone.NotFound, IdempotentParameterMismatch,
// RequestLimitExceeded, DryRunOperation, UnauthorizedOperation,
// IncorrectState (a volume from a snapshot that is not completed, a copy of
// one), VolumeInUse, SnapshotCreationPerVolumeRateExceeded (opt-in).
// Describe* take ids (an unknown id fails the whole call, as in EC2),
// filters (values with * and ? wildcards) and MaxResults/NextToken
// (DescribeInstances 5–1000 and not with InstanceIds, DescribeVolumes
// 5–500, DescribeSnapshots 5–1000; offset tokens, stable creation order).
// Only CreateVolume takes a ClientToken, as in EC2: the same token with the
// same parameters returns the same volume; with other parameters,
// IdempotentParameterMismatch. CreateSnapshot(s) and CopySnapshot have no
// token, so a retried call creates a duplicate: tag, and look up by tag.
// CreateVolume checks the zone, size ≥ the snapshot's, gp3 IOPS 3000–80000
// (≤ 500/GiB) and throughput 125–2000 MiB/s (≤ 0.25 MiB/s per IOPS), io1
// 100–64000 (≤ 50/GiB), io2 100–256000 (≤ 1000/GiB), IOPS required for
// io1/io2 and refused for gp2/st1/sc1/standard, VolumeInitializationRate
// 100–300 with a snapshot only, KmsKeyId only with Encrypted. A volume from
// an encrypted snapshot is encrypted. Every mutating call honours DryRun
// after validation: DryRunOperation, or UnauthorizedOperation when a deny
// rule (DenyOperation, DenyKMSKey) matches; deny rules apply without DryRun
// too. The SDK's retryer is not in the path: a caller sees every
// RequestLimitExceeded.
//
// # Rate limits
//
// EC2's token buckets, refilled on the virtual clock: mutating calls burst
// 100 refill 5/s, Describe calls burst 100 refill 20/s (Options.Limits).
// A call finding its bucket empty fails with RequestLimitExceeded and takes
// no token; every other call (DryRun and failed ones too) takes one.
//
// # Faults
//
// Throttle(p, ops...) throttles a fraction of calls (seeded PRNG);
// Inject/FailNth return an error code on matching calls, before or after
// applying them; SetLatency adds virtual latency; FailSnapshotsOf and
// StallSnapshotsOf decide how later snapshots end; SetSnapshotState forces
// one. CrashAfter(n)/CrashWhen(f) are crash points: the call is applied,
// then it and every later call return ErrCrash until Revive, as if the
// process died after its request reached EC2.
//
// OnCall runs a callback before every call with the caller's context: a
// test blocks one client there to force an interleaving of several clients
// (two machines running graft at once). Options.ListLag hides a resource
// from listings for a while after it is created, as EC2's eventual
// consistency does.
//
// # Audit
//
// Every call is logged (Calls): operation, virtual time, DryRun, whether
// it changed state, the ids it read and wrote, its error code. Helpers:
// MutatingCallsOn (must be empty for sources), CallsOn, Stats, Count,
// Throttles, Mutations, Snapshots, Volumes, Instances, Created, Leaked,
// Duplicates.
//
// # Clock
//
// See Clock: a discrete-event clock that jumps to the next sleeper's
// wake-up or the next simulated state change once the process is idle.
// Sim.Now and Sim.Elapsed report virtual time; Sim.Clock is the ebs.Clock
// to give the engine.
package ec2sim
