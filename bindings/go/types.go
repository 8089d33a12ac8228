package zkutil

// The types of the constants generated from the header (constants.go).

// State is a session state (StateConnected, ...).
type State int32

// LockState is a lock handle's state (LockUnlocked, LockHeld,
// LockSuspended, LockLost).
type LockState int32

// ReaderEventKind says what happened to a reader's node
// (ReaderEventChanged, ...).
type ReaderEventKind int32

// ReaderState is a reader's state (ReaderStateFresh, ...).
type ReaderState int32

// Perm is a mask of permission bits (PermRead, ..., PermAll).
type Perm int32

// CreateFlag is a set of node creation flags (CreateEphemeral, ...).
type CreateFlag uint32

// CASFlag is a set of compare-and-swap flags (CASJSON, CASCreate, ...).
type CASFlag uint32

// LockFlag is a set of lock flags (LockPersistent).
type LockFlag uint32

// ImportFlag is a set of hierarchy import flags (ImportUpdateValues).
type ImportFlag uint32

// ExportFlag is a set of hierarchy export flags (ExportPretty, ...).
type ExportFlag uint32

// WaitFlag is a set of GetNext flags (WaitCreate).
type WaitFlag uint32

// PathKind says which k3zkutil path Config.Path builds (PathLock, ...).
type PathKind int32

// ConfigField names a text field of a Config (ConfigNodeID, ...).
type ConfigField int32

// RegistrationState is a registration node handle's state
// (RegistrationAbsent, RegistrationPresent, RegistrationClosed).
type RegistrationState int32

// RegistrationFlag is a set of registration flags (RegistrationPersistent,
// RegistrationSequential).
type RegistrationFlag uint32

// LogLevel is how important a log message is (LogError, LogWarn, LogInfo,
// LogDebug); each level includes the ones before it.
type LogLevel int32
