package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// schemaVersion is the layout this build reads and writes. A store with a
// higher version was written by a newer build and is refused rather than
// misread; a lower version is migrated at open.
//
// Version 2 writes clients in MarshalClient's binary form; version 1 wrote
// them as JSON. The bucket layout is the same and both forms are read, so
// moving a store from 1 to 2 only records the new version (which keeps a
// version 1 build from opening a store it could not read); a client's record
// takes the new form when it is next written.
//
// Version 3 adds the users, usernames and roles buckets and the user count;
// moving a store from 1 or 2 to 3 creates them empty.
//
// Version 4 adds the sessions and user_sessions buckets; moving an older
// store to 4 creates them empty. The version moves so that a version 3
// build, whose DeleteUser would leave a deleted user's sessions behind,
// refuses the store.
//
// Version 5 adds the auth_requests, auth_codes and consents buckets of the
// authorization code flow; moving an older store to 5 creates them empty.
// The version moves so that a version 4 build, whose DeleteUser would
// leave a deleted user's consents and codes behind, refuses the store.
//
// Version 6 adds the refresh_families bucket; moving an older store to 6
// creates it empty. The version moves so that a version 5 build, whose
// DeleteUser and DeleteClient would leave refresh tokens behind, refuses
// the store.
const schemaVersion = 6

// defaultTimeout is how long Open waits for the file lock when
// BoltOptions.Timeout is zero.
const defaultTimeout = time.Second

// batchDelay is how long a write waits for others to share its transaction
// and its fsync. bbolt's default, 10 ms, is ten fsyncs of this kind of disk:
// a lone write (a sign-in, a code's redemption) waited 11 ms where 3 ms do,
// and writers too few to fill a batch spent the rest idle (go test -run '^$'
// -bench 'CreateClientParallel|AuthorizationCodeGrant' ./storage
// ./authserver: 5,400 creates/s at 10 ms, 14,000-19,000 at 2 ms).
const batchDelay = 2 * time.Millisecond

// Buckets of the version 1 layout. Keys are client IDs unless said otherwise.
var (
	bucketClients     = []byte("clients")      // client ID → MarshalClient's form
	bucketClientNames = []byte("client_names") // nameKey(name) → client ID
	bucketSigningKeys = []byte("signing_keys") // keySigningKeys → []SigningKey JSON
	bucketRevocations = []byte("revocations")  // JTI → Revocation JSON
	bucketUsage       = []byte("usage")        // client ID → Usage JSON
	bucketMeta        = []byte("meta")         // the keys below

	allBuckets = [][]byte{bucketClients, bucketClientNames, bucketSigningKeys, bucketRevocations, bucketUsage, bucketMeta}

	// Buckets of version 3. Organizations, when they come, get a bucket
	// of their own (org ID → record) and a username index per organization
	// (a nested bucket under usernames, keyed by org ID): user IDs stay
	// globally unique, so the users bucket keeps its flat ID keys.
	bucketUsers     = []byte("users")     // user ID → MarshalUser's form
	bucketUsernames = []byte("usernames") // nameKey(username) → user ID
	bucketRoles     = []byte("roles")     // role name → MarshalRole's form

	userBuckets = [][]byte{bucketUsers, bucketUsernames, bucketRoles}

	// Buckets of version 4. user_sessions holds one nested bucket per
	// user ID, whose keys are that user's session IDs (values empty):
	// ending a user's sessions is one bucket walk, and user IDs with any
	// byte in them need no escaping. Organizations need nothing here:
	// user IDs stay globally unique.
	bucketSessions     = []byte("sessions")      // session ID → MarshalSession's form
	bucketUserSessions = []byte("user_sessions") // user ID → {session ID → ""}

	sessionBuckets = [][]byte{bucketSessions, bucketUserSessions}

	// Buckets of version 5. consents holds one nested bucket per user ID,
	// keyed by client ID: a user's consents are one bucket to drop.
	bucketAuthRequests = []byte("auth_requests") // request ID → MarshalAuthRequest's form
	bucketAuthCodes    = []byte("auth_codes")    // code hash → MarshalAuthCode's form
	bucketConsents     = []byte("consents")      // user ID → {client ID → MarshalConsent's form}

	authzBuckets = [][]byte{bucketAuthRequests, bucketAuthCodes, bucketConsents}

	// Buckets of version 6.
	bucketRefreshFamilies = []byte("refresh_families") // family ID → MarshalRefreshFamily's form

	refreshBuckets = [][]byte{bucketRefreshFamilies}

	// keySchemaVersion holds schemaVersion in decimal.
	keySchemaVersion = []byte("schema_version")
	// keyClientCount holds the number of clients as a big-endian uint64, so
	// that counting and the max-clients check never walk the clients bucket.
	keyClientCount = []byte("client_count")
	// keyUserCount holds the number of users, as keyClientCount does.
	keyUserCount = []byte("user_count")
	// keySigningKeys holds the whole key set, replaced in one write.
	keySigningKeys = []byte("keys")
)

// BoltOptions configures Open.
type BoltOptions struct {
	// Timeout is how long Open waits for the file lock while another process
	// (or another open handle in this process) holds it. Zero means one second.
	Timeout time.Duration
}

// Bolt is the Store kept in one bbolt file. Only one Bolt may have a given
// file open at a time: bbolt locks the file, and a second Open waits for
// BoltOptions.Timeout and then fails.
type Bolt struct {
	db   *bolt.DB
	path string

	closeMu sync.Mutex
	closed  bool
}

// Open opens the store at path, creating the file (mode 0600) and a missing
// parent directory (mode 0700) when needed. An existing file whose mode gives
// any access to group or others is narrowed to 0600, since it holds private
// signing keys.
//
// Open fails with a clear error, never a panic, when the file is locked by
// another process, is not a bbolt database or belongs to another
// application, is truncated or has an unreadable layout, or was written by a
// newer schema version. It validates the meta pages, the file size and the
// store's own buckets; a walk of every page is left to Check, which takes
// time proportional to the file. A read that reaches a damaged page later
// fails with an error; a write can still panic inside bbolt's shared
// transaction goroutine, which no caller can recover, so after a disk fault
// run Check before serving.
func Open(path string, opts BoltOptions) (*Bolt, error) {
	if path == "" {
		return nil, errors.New("storage: open: empty path")
	}
	timeout := opts.Timeout
	switch {
	case timeout < 0:
		return nil, fmt.Errorf("storage: open %s: negative timeout %v", path, timeout)
	case timeout == 0:
		timeout = defaultTimeout
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("storage: cannot create the directory of %s: %w", path, err)
	}
	db, err := openBolt(path, timeout)
	if err != nil {
		return nil, err
	}
	if err := initialize(db, path); err != nil {
		closeQuietly(db)
		return nil, err
	}
	if err := restrictMode(path); err != nil {
		closeQuietly(db)
		return nil, err
	}
	return &Bolt{db: db, path: path}, nil
}

// openBolt opens the bbolt file and turns its failures, panics and memory
// faults included, into errors that name the path.
func openBolt(path string, timeout time.Duration) (db *bolt.DB, err error) {
	// Remember the file so that it can be closed, which releases its lock,
	// when bbolt panics half-way through Open and returns no handle; and
	// whether the system refused to open it at all, which says nothing of
	// its content.
	var (
		file    *os.File
		openErr error
	)
	_, statErr := os.Stat(path)
	existed := statErr == nil
	options := &bolt.Options{
		Timeout: timeout,
		OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
			f, err := os.OpenFile(name, flag, perm)
			if err == nil {
				file = f
			}
			openErr = err
			return f, err
		},
	}
	defer func() {
		if p := recover(); p != nil {
			// The memory map bbolt may have made leaks here: without a
			// handle it cannot be unmapped. Open failing is fatal to start-up
			// anyway, so this is not worth copying bbolt's internals for;
			// but the lock must go, or a retry would see a locked file.
			if file != nil {
				releaseLock(file)
				_ = file.Close()
			}
			db, err = nil, corruptError(path, panicCause(p))
		}
	}()
	// A truncated file can make bbolt read past its end through the memory
	// map: that is a fault, which this turns into a recoverable panic.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))

	db, err = bolt.Open(path, 0o600, options)
	if err == nil {
		db.MaxBatchDelay = batchDelay
	}
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, &pathError{
			msg: fmt.Sprintf("storage: %s is locked by another process (waited %v)", path, timeout),
			err: err,
		}
	case openErr != nil:
		return nil, accessError(path, existed, openErr)
	case err != nil:
		return nil, corruptError(path, err)
	}
	return db, nil
}

// initialize checks an existing store's layout and schema version, or lays
// out a new one: every bucket, the schema version and a zero client count,
// in one transaction.
func initialize(db *bolt.DB, path string) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = corruptError(path, panicCause(p))
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))

	info, err := os.Stat(path)
	if err != nil {
		return corruptError(path, err)
	}
	fresh := false
	var version uint64
	err = db.View(func(tx *bolt.Tx) error {
		// Every page below the high-water mark must be inside the file; a
		// shorter file was truncated, and reading it would fault.
		if need := tx.Size(); info.Size() < need {
			return corruptError(path, fmt.Errorf("file has %d bytes, its pages need %d", info.Size(), need))
		}
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			if name, _ := tx.Cursor().First(); name != nil {
				return fmt.Errorf("storage: %s is a bbolt file of another application (it has a bucket %s)", path, quoteClipped(name))
			}
			fresh = true
			return nil
		}
		var err error
		version, err = checkLayout(tx, meta, path)
		return err
	})
	if err != nil {
		return err
	}
	if !fresh {
		return migrate(db, path, version)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucket(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		meta := tx.Bucket(bucketMeta)
		if err := meta.Put(keySchemaVersion, []byte(strconv.Itoa(schemaVersion))); err != nil {
			return err
		}
		if err := putCount(meta, 0); err != nil {
			return err
		}
		if err := addUserBuckets(tx); err != nil {
			return err
		}
		if err := addBuckets(tx, sessionBuckets); err != nil {
			return err
		}
		if err := addBuckets(tx, authzBuckets); err != nil {
			return err
		}
		return addBuckets(tx, refreshBuckets)
	})
	if err != nil {
		return fmt.Errorf("storage: lay out %s: %w", path, err)
	}
	return nil
}

// migrate brings a store of an older schema version up to schemaVersion.
func migrate(db *bolt.DB, path string, version uint64) error {
	if version >= schemaVersion {
		return nil
	}
	// From 1 to 2 nothing is rewritten: see schemaVersion. Versions 3, 4
	// 5 and 6 only add empty buckets.
	err := db.Update(func(tx *bolt.Tx) error {
		if version < 3 {
			if err := addUserBuckets(tx); err != nil {
				return err
			}
		}
		if version < 4 {
			if err := addBuckets(tx, sessionBuckets); err != nil {
				return err
			}
		}
		if version < 5 {
			if err := addBuckets(tx, authzBuckets); err != nil {
				return err
			}
		}
		if version < 6 {
			if err := addBuckets(tx, refreshBuckets); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keySchemaVersion, []byte(strconv.Itoa(schemaVersion)))
	})
	if err != nil {
		return fmt.Errorf("storage: migrate %s from schema version %d to %d: %w", path, version, schemaVersion, err)
	}
	return nil
}

// addUserBuckets lays out what version 3 added: the user and role buckets
// and a zero user count.
func addUserBuckets(tx *bolt.Tx) error {
	// addBuckets keeps existing ones: a store whose version was set back by hand (or by a
	// test) may hold them already, and their records must stay.
	if err := addBuckets(tx, userBuckets); err != nil {
		return err
	}
	meta := tx.Bucket(bucketMeta)
	if meta.Get(keyUserCount) != nil {
		return nil
	}
	return putUserCount(meta, 0)
}

// addBuckets creates the named buckets that do not exist yet.
func addBuckets(tx *bolt.Tx, names [][]byte) error {
	for _, name := range names {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	return nil
}

// checkLayout verifies the schema version and the buckets of an existing
// store, and returns the version.
func checkLayout(tx *bolt.Tx, meta *bolt.Bucket, path string) (uint64, error) {
	raw := meta.Get(keySchemaVersion)
	var version uint64
	err := errors.New("too long")
	if len(raw) <= 20 {
		version, err = strconv.ParseUint(string(raw), 10, 32)
	}
	if err != nil || version == 0 {
		return 0, corruptError(path, fmt.Errorf("unreadable schema version %s", quoteClipped(raw)))
	}
	if version > schemaVersion {
		return 0, fmt.Errorf("storage: %s has schema version %d, and this build reads up to version %d: upgrade Scopegate", path, version, schemaVersion)
	}
	for _, name := range allBuckets {
		if tx.Bucket(name) == nil {
			return 0, corruptError(path, fmt.Errorf("bucket %s is missing", name))
		}
	}
	// An older store gets the user buckets from migrate.
	if version >= 3 {
		for _, name := range userBuckets {
			if tx.Bucket(name) == nil {
				return 0, corruptError(path, fmt.Errorf("bucket %s is missing", name))
			}
		}
		if _, err := readUserCount(meta); err != nil {
			return 0, corruptError(path, err)
		}
	}
	if version >= 4 {
		for _, name := range sessionBuckets {
			if tx.Bucket(name) == nil {
				return 0, corruptError(path, fmt.Errorf("bucket %s is missing", name))
			}
		}
	}
	if version >= 5 {
		for _, name := range authzBuckets {
			if tx.Bucket(name) == nil {
				return 0, corruptError(path, fmt.Errorf("bucket %s is missing", name))
			}
		}
	}
	if version >= 6 {
		for _, name := range refreshBuckets {
			if tx.Bucket(name) == nil {
				return 0, corruptError(path, fmt.Errorf("bucket %s is missing", name))
			}
		}
	}
	if _, err := readCount(meta); err != nil {
		return 0, corruptError(path, err)
	}
	return version, nil
}

// restrictMode narrows the file's mode to 0600 when group or others have any
// access to it.
func restrictMode(path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("storage: stat %s: %w", path, err)
	}
	if info.Mode().Perm()&0o077 == 0 {
		return nil
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return fmt.Errorf("storage: restrict the mode of %s to 0600: %w", path, err)
	}
	return nil
}

// closeQuietly closes a handle whose Open is being abandoned. A layout check
// that panicked on a corrupt page may have left bbolt in a state where
// closing panics too; the error being returned already says what is wrong.
func closeQuietly(db *bolt.DB) {
	defer func() { _ = recover() }()
	_ = db.Close()
}

// pathError is an error whose message is complete by itself while errors.Is
// still reaches the underlying cause.
type pathError struct {
	msg string
	err error
}

func (e *pathError) Error() string { return e.msg }
func (e *pathError) Unwrap() error { return e.err }

// panicCause describes what bbolt panicked with while reading a damaged file.
func panicCause(p any) error {
	if fault, ok := p.(interface{ Addr() uintptr }); ok {
		return fmt.Errorf("a page lies past the end of the file (truncated?): %v", fault)
	}
	return fmt.Errorf("bbolt panicked: %v", p)
}

// corruptError reports a store file that cannot be used as it is.
func corruptError(path string, cause error) error {
	return fmt.Errorf("storage: %s is corrupt or unreadable: %w", path, cause)
}

// accessError reports a store file that the system would not open for
// reading and writing (no permission, a read-only or immutable file system,
// no space for a new file): the operator must fix access, not content. It
// gives the system's reason alone, since the message already names path.
func accessError(path string, existed bool, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	if existed {
		return fmt.Errorf("storage: cannot open %s for reading and writing: %w", path, err)
	}
	return fmt.Errorf("storage: cannot create %s: %w", path, err)
}

// Path returns the file the store was opened from.
func (b *Bolt) Path() string { return b.path }

// Close releases the file and its lock. Calling it again does nothing.
func (b *Bolt) Close() error {
	b.closeMu.Lock()
	defer b.closeMu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	if err := b.db.Close(); err != nil {
		return fmt.Errorf("storage: close %s: %w", b.path, err)
	}
	return nil
}

// maxCheckErrors bounds how many problems Check lists, so that a badly
// damaged file gives a readable error.
const maxCheckErrors = 10

// Check verifies the whole file: bbolt's page-level consistency check, then
// the store's own invariants (the client and user counts and the name and
// username indexes agree with the clients and users). It reads every page, so it takes time proportional to the
// file; tests and operators call it, the request path never does.
func (b *Bolt) Check() error {
	var problems []error
	total := 0
	note := func(err error) {
		total++
		if len(problems) < maxCheckErrors {
			problems = append(problems, err)
		}
	}
	err := b.view(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			note(err)
		}
		if total > 0 {
			// The pages are damaged: walking the buckets could fault.
			return nil
		}
		if err := checkIndexes(tx, note); err != nil {
			return err
		}
		if err := checkUserIndexes(tx, note); err != nil {
			return err
		}
		if err := checkSessionIndexes(tx, note); err != nil {
			return err
		}
		if err := checkAuthzRecords(tx, note); err != nil {
			return err
		}
		return checkRefreshFamilies(tx, note)
	})
	if err != nil {
		return fmt.Errorf("storage: check %s: %w", b.path, err)
	}
	if total > 0 {
		return fmt.Errorf("storage: %s failed its check with %d problems: %w", b.path, total, errors.Join(problems...))
	}
	return nil
}

// checkIndexes reports every disagreement between the clients bucket and the
// client count and name index derived from it.
func checkIndexes(tx *bolt.Tx, note func(error)) error {
	clients := tx.Bucket(bucketClients)
	names := tx.Bucket(bucketClientNames)
	meta := tx.Bucket(bucketMeta)
	if clients == nil || names == nil || meta == nil {
		note(errors.New("a bucket is missing"))
		return nil
	}
	var n uint64
	err := clients.ForEach(func(id, v []byte) error {
		n++
		name, storedID, err := storedName(v)
		if err != nil {
			note(fmt.Errorf("client %s: %w", quoteClipped(id), err))
			return nil
		}
		// A JSON record holds its ID as well as its key; a binary one only
		// its key.
		if storedID != "" && storedID != string(id) {
			note(fmt.Errorf("client %s is stored with id %s", quoteClipped(id), quoteClipped([]byte(storedID))))
		}
		if got := names.Get([]byte(nameKey(name))); string(got) != string(id) {
			note(fmt.Errorf("client %s: its name %s is indexed to %s", quoteClipped(id), quoteClipped([]byte(name)), quoteClipped(got)))
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = names.ForEach(func(k, id []byte) error {
		v := clients.Get(id)
		if v == nil {
			note(fmt.Errorf("name index entry %s points at missing client %s", quoteClipped(k), quoteClipped(id)))
			return nil
		}
		if name, _, err := storedName(v); err == nil && nameKey(name) != string(k) {
			note(fmt.Errorf("name index entry %s points at client %s, which is named %s", quoteClipped(k), quoteClipped(id), quoteClipped([]byte(name))))
		}
		return nil
	})
	if err != nil {
		return err
	}
	count, err := readCount(meta)
	if err != nil {
		note(err)
	} else if count != n {
		note(fmt.Errorf("client count is %d, but %d clients are stored", count, n))
	}
	return nil
}

// maxQuoted bounds how much of a key or value read from the file an error
// quotes: on a damaged page, a length field can claim gigabytes.
const maxQuoted = 64

// quoteClipped quotes b for an error message, cut to maxQuoted bytes.
func quoteClipped(b []byte) string {
	if len(b) > maxQuoted {
		return strconv.Quote(string(b[:maxQuoted])) + fmt.Sprintf("… (%d bytes)", len(b))
	}
	return strconv.Quote(string(b))
}

var _ Store = (*Bolt)(nil)
