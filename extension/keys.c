/*
 * keys.c
 *	  Master keys and the blind-index key from outside the database, and the
 *	  data keys they wrap.
 *
 * Key material comes from the file named by onshikaku.key_file, or from the
 * output of onshikaku.key_command; both settings are superuser-only and
 * reloadable.  The text holds lines
 *
 *	   kek.<id> = <64 hex digits>		(one or more master keys)
 *	   blind_index = <64 hex digits>	(exactly one)
 *
 * A backend reads it on first use, after the cryptographic self-test, keeps
 * the keys in process memory only, and wipes them at exit, when the
 * settings change, and on onshikaku.forget_keys().  New data keys are
 * wrapped with the master key of the highest id.
 *
 * Data keys are 256-bit keys from the CSPRNG, one active per scope (an
 * insurer, or none, and a cohort), stored wrapped by a master key in
 * onshikaku.data_key with associated data that binds each to its id and
 * scope.  Unwrapped keys are cached per backend as keyed AEAD contexts;
 * rotation and destruction invalidate the caches of every backend through
 * a relcache invalidation of onshikaku.data_key.
 */
#include "postgres.h"

#include <sys/stat.h>

#include "access/parallel.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"

#include "keys.h"
#include "privileged.h"

#define MAX_KEKS		8
#define KEY_TEXT_MAX	8192
#define WRAPPED_LEN		(OSK_NONCE_LEN + OSK_KEY_LEN + OSK_TAG_LEN)

static char *key_file = NULL;
static char *key_command = NULL;
static uint64 settings_generation = 1;	/* bumped when either setting changes */

typedef struct Kek
{
	int32		id;
	uint8_t		key[OSK_KEY_LEN];
	OskAead    *aead;
} Kek;

/* The backend's key ring; static storage, wiped by ring_wipe(). */
static struct
{
	bool		loaded;
	bool		self_tested;
	uint64		generation;		/* settings_generation it was loaded at */
	LocalTransactionId checked_lxid;	/* last transaction that checked it */
	uint64		file_identity[3];	/* device+inode, size, mtime; 0 for a command */
	char	   *source;			/* the settings it was loaded from */
	int			nkeks;
	int			current;		/* index of the highest KEK id */
	Kek			keks[MAX_KEKS];
	uint8_t		index_key[OSK_KEY_LEN];
	OskMac	   *index_mac;
	bool		index_checked;	/* fingerprint compared with the database's */
} ring;

typedef struct DekEntry
{
	int32		key_id;			/* hash key */
	int32		cohort;
	OskAead    *aead;
} DekEntry;

typedef struct ScopeKey
{
	int64		insurer;
	int32		cohort;
} ScopeKey;

typedef struct ScopeEntry
{
	ScopeKey	scope;			/* hash key */
	int32		key_id;
	OskAead    *aead;			/* borrowed from dek_cache; reset together */
} ScopeEntry;

static pid_t exit_wipe_pid = 0;
static HTAB *dek_cache = NULL;
static DekEntry *last_dek = NULL;	/* an entry of dek_cache, or NULL */
static HTAB *scope_cache = NULL;
static Oid	data_key_relid = InvalidOid;

static void ring_wipe(void);

/* Free every cached data key; the AEAD free cleanses the key schedules. */
static void
dek_caches_reset(void)
{
	if (dek_cache != NULL)
	{
		HASH_SEQ_STATUS seq;
		DekEntry   *e;

		hash_seq_init(&seq, dek_cache);
		while ((e = hash_seq_search(&seq)) != NULL)
			osk_aead_free(e->aead);
		hash_destroy(dek_cache);
		dek_cache = NULL;
	}
	last_dek = NULL;
	if (scope_cache != NULL)
	{
		hash_destroy(scope_cache);
		scope_cache = NULL;
	}
}

/* Relcache callback: onshikaku.data_key changed in some backend. */
static void
data_key_invalidated(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == data_key_relid)
	{
		dek_caches_reset();
		data_key_relid = InvalidOid;
	}
}

/* Process exit: no key outlives the backend in its memory. */
static void
keys_at_exit(int code, Datum arg)
{
	ring_wipe();
}

/* Wipe the key ring and every data key derived from it. */
static void
ring_wipe(void)
{
	for (int i = 0; i < ring.nkeks; i++)
	{
		osk_aead_free(ring.keks[i].aead);
		ring.keks[i].aead = NULL;
	}
	osk_wipe(ring.keks, sizeof(ring.keks));
	osk_mac_free(ring.index_mac);
	ring.index_mac = NULL;
	osk_wipe(ring.index_key, sizeof(ring.index_key));
	if (ring.source)
		pfree(ring.source);
	ring.source = NULL;
	ring.nkeks = 0;
	ring.loaded = false;
	ring.index_checked = false;
	dek_caches_reset();
}

/* GUC assign hook: a changed setting makes the next key use re-check. */
static void
key_setting_assigned(const char *newval, void *extra)
{
	settings_generation++;
}

/*
 * Settings and callbacks.  Both settings are superuser-only: neither SHOW
 * nor pg_settings shows them to other roles.
 */
void
osk_keys_init(void)
{
	DefineCustomStringVariable("onshikaku.key_file",
							   "File holding the master keys and the blind-index key.",
							   "Readable only by the server's OS user; see docs/keys.md.",
							   &key_file, "", PGC_SIGHUP,
							   GUC_SUPERUSER_ONLY | GUC_NOT_IN_SAMPLE,
							   NULL, key_setting_assigned, NULL);
	DefineCustomStringVariable("onshikaku.key_command",
							   "Command that prints the master keys and the blind-index key.",
							   "Takes precedence over onshikaku.key_file; see docs/keys.md.",
							   &key_command, "", PGC_SIGHUP,
							   GUC_SUPERUSER_ONLY | GUC_NOT_IN_SAMPLE,
							   NULL, key_setting_assigned, NULL);
	CacheRegisterRelcacheCallback(data_key_invalidated, (Datum) 0);
}

/*
 * What identifies the key file's current content cheaply: device and
 * inode, size, and modification time (nanoseconds).  All zero when it
 * cannot be read, which never matches a loaded ring.
 */
static void
key_file_identity(uint64 id[3])
{
	struct stat st;

	memset(id, 0, 3 * sizeof(uint64));
	if (key_file == NULL || key_file[0] == '\0' || stat(key_file, &st) != 0)
		return;
	id[0] = ((uint64) st.st_dev << 32) ^ (uint64) st.st_ino;
	id[1] = (uint64) st.st_size;
	id[2] = (uint64) st.st_mtim.tv_sec * 1000000000 + (uint64) st.st_mtim.tv_nsec;
	if (id[0] == 0)
		id[0] = 1;
}

/* Which settings the ring would be loaded from now, as one string. */
static char *
current_source(void)
{
	if (key_command != NULL && key_command[0] != '\0')
		return psprintf("command:%s", key_command);
	if (key_file != NULL && key_file[0] != '\0')
		return psprintf("file:%s", key_file);
	return NULL;
}

/* Read the key text from the command or the file into buf; returns length. */
static size_t
read_key_text(char *buf, size_t cap)
{
	size_t		n;

	if (key_command != NULL && key_command[0] != '\0')
	{
		FILE	   *f = OpenPipeStream(key_command, "r");
		int			rc;

		if (f == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_CONFIG_FILE_ERROR),
					 errmsg("could not run onshikaku.key_command: %m")));
		n = fread(buf, 1, cap, f);
		rc = ClosePipeStream(f);
		if (rc != 0)
		{
			osk_wipe(buf, cap);
			ereport(ERROR,
					(errcode(ERRCODE_CONFIG_FILE_ERROR),
					 errmsg("onshikaku.key_command failed"),
					 errdetail("The command %s.", wait_result_to_str(rc))));
		}
		return n;
	}
	else
	{
		struct stat st;
		FILE	   *f;

		if (stat(key_file, &st) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_CONFIG_FILE_ERROR),
					 errmsg("could not access the key file named by onshikaku.key_file: %m")));
		if (!S_ISREG(st.st_mode))
			ereport(ERROR,
					(errcode(ERRCODE_CONFIG_FILE_ERROR),
					 errmsg("the key file named by onshikaku.key_file is not a regular file")));
		if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_CONFIG_FILE_ERROR),
					 errmsg("the key file has group or world access"),
					 errdetail("It must be readable by the server's OS user only."),
					 errhint("chmod 600 the file.")));
		f = AllocateFile(key_file, "r");
		if (f == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_CONFIG_FILE_ERROR),
					 errmsg("could not open the key file named by onshikaku.key_file: %m")));
		n = fread(buf, 1, cap, f);
		FreeFile(f);
		return n;
	}
}

/* Decode exactly 64 hex digits into 32 bytes; false if malformed. */
static bool
decode_key(const char *hex, size_t len, uint8_t out[OSK_KEY_LEN])
{
	if (len != 2 * OSK_KEY_LEN)
		return false;
	for (int i = 0; i < OSK_KEY_LEN; i++)
	{
		int			v = 0;

		for (int j = 0; j < 2; j++)
		{
			char		c = hex[2 * i + j];

			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= c - '0';
			else if (c >= 'a' && c <= 'f')
				v |= c - 'a' + 10;
			else if (c >= 'A' && c <= 'F')
				v |= c - 'A' + 10;
			else
				return false;
		}
		out[i] = (uint8_t) v;
	}
	return true;
}

/* Raise a key-text syntax error that names the line, never its content. */
static void
key_syntax_error(char *buf, size_t cap, int lineno, const char *what)
{
	osk_wipe(buf, cap);
	ereport(ERROR,
			(errcode(ERRCODE_CONFIG_FILE_ERROR),
			 errmsg("invalid key file or key command output at line %d: %s", lineno, what),
			 errhint("See docs/keys.md for the format.")));
}

/* Parse the key text into the ring.  buf is wiped by the caller. */
static void
parse_key_text(char *buf, size_t n, size_t cap)
{
	char	   *p = buf;
	char	   *end = buf + n;
	int			lineno = 0;
	bool		have_index = false;

	while (p < end)
	{
		char	   *line = p;
		char	   *eol = memchr(p, '\n', end - p);
		char	   *eq;
		char	   *name_end;
		char	   *val;
		char	   *val_end;

		if (eol == NULL)
			eol = end;
		p = eol + 1;
		lineno++;
		while (line < eol && (*line == ' ' || *line == '\t' || *line == '\r'))
			line++;
		if (line == eol || *line == '#')
			continue;
		eq = memchr(line, '=', eol - line);
		if (eq == NULL)
			key_syntax_error(buf, cap, lineno, "expected name = value");
		name_end = eq;
		while (name_end > line && (name_end[-1] == ' ' || name_end[-1] == '\t'))
			name_end--;
		val = eq + 1;
		while (val < eol && (*val == ' ' || *val == '\t'))
			val++;
		val_end = eol;
		while (val_end > val && (val_end[-1] == ' ' || val_end[-1] == '\t' || val_end[-1] == '\r'))
			val_end--;

		if (name_end - line == 11 && strncmp(line, "blind_index", 11) == 0)
		{
			if (have_index)
				key_syntax_error(buf, cap, lineno, "blind_index is given twice");
			if (!decode_key(val, val_end - val, ring.index_key))
				key_syntax_error(buf, cap, lineno, "a key must be 64 hexadecimal digits");
			have_index = true;
		}
		else if (name_end - line > 4 && strncmp(line, "kek.", 4) == 0)
		{
			long		id = 0;
			Kek		   *k;

			for (char *d = line + 4; d < name_end; d++)
			{
				if (*d < '0' || *d > '9' || id > 100000000)
					key_syntax_error(buf, cap, lineno, "a master key id must be a positive integer");
				id = id * 10 + (*d - '0');
			}
			if (id < 1)
				key_syntax_error(buf, cap, lineno, "a master key id must be a positive integer");
			for (int i = 0; i < ring.nkeks; i++)
				if (ring.keks[i].id == id)
					key_syntax_error(buf, cap, lineno, "a master key id is given twice");
			if (ring.nkeks == MAX_KEKS)
				key_syntax_error(buf, cap, lineno, "too many master keys");
			k = &ring.keks[ring.nkeks];
			if (!decode_key(val, val_end - val, k->key))
				key_syntax_error(buf, cap, lineno, "a key must be 64 hexadecimal digits");
			k->id = (int32) id;
			ring.nkeks++;
		}
		else
			key_syntax_error(buf, cap, lineno, "unknown name (expected kek.<id> or blind_index)");
	}
	if (ring.nkeks == 0)
		key_syntax_error(buf, cap, lineno, "no master key (kek.<id>) is given");
	if (!have_index)
		key_syntax_error(buf, cap, lineno, "no blind_index key is given");
}

/* Raise the error for an OpenSSL failure, with OpenSSL's text only. */
static void
crypto_failed(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INTERNAL_ERROR),
			 errmsg("%s failed", what),
			 errdetail("OpenSSL: %s", osk_crypto_error())));
}

/*
 * Load the ring if it is not loaded or the settings changed.  Runs the
 * self-test once per backend before any key is used.
 */
static void
ring_require(void)
{
	char	   *source;
	char	   *buf;
	size_t		n;

	/* the hot path: nothing changed since the ring was loaded */
	if (likely(ring.loaded && ring.generation == settings_generation &&
			   ring.checked_lxid == MyProc->lxid))
		return;
	/* once per transaction, notice a key file replaced or edited in place */
	if (ring.loaded && ring.generation == settings_generation && ring.file_identity[0] != 0)
	{
		uint64		id[3];

		key_file_identity(id);
		if (memcmp(id, ring.file_identity, sizeof(id)) == 0)
		{
			ring.checked_lxid = MyProc->lxid;
			return;
		}
	}
	source = current_source();
	if (ring.loaded && source != NULL && strcmp(source, ring.source) == 0 &&
		ring.file_identity[0] == 0)
	{
		ring.generation = settings_generation;
		ring.checked_lxid = MyProc->lxid;
		pfree(source);
		return;
	}
	if (ring.loaded)
		ring_wipe();
	if (source == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("no encryption key is configured"),
				 errhint("A superuser sets onshikaku.key_file (or onshikaku.key_command) in postgresql.conf; see docs/keys.md.")));
	if (!ring.self_tested)
	{
		const char *failed = osk_crypto_self_test();

		if (failed != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("cryptographic self-test failed: %s", failed),
					 errdetail("OpenSSL: %s", osk_crypto_error())));
		ring.self_tested = true;
	}

	/* identify the file before reading it: a change in between reloads again */
	if (key_command == NULL || key_command[0] == '\0')
		key_file_identity(ring.file_identity);
	else
		memset(ring.file_identity, 0, sizeof(ring.file_identity));
	buf = MemoryContextAllocZero(TopMemoryContext, KEY_TEXT_MAX);
	PG_TRY();
	{
		n = read_key_text(buf, KEY_TEXT_MAX);
		if (n == KEY_TEXT_MAX)
			key_syntax_error(buf, KEY_TEXT_MAX, 0, "the key text is too long");
		parse_key_text(buf, n, KEY_TEXT_MAX);
	}
	PG_CATCH();
	{
		osk_wipe(buf, KEY_TEXT_MAX);
		pfree(buf);
		osk_wipe(ring.keks, sizeof(ring.keks));
		osk_wipe(ring.index_key, sizeof(ring.index_key));
		ring.nkeks = 0;
		PG_RE_THROW();
	}
	PG_END_TRY();
	osk_wipe(buf, KEY_TEXT_MAX);
	pfree(buf);

	ring.current = 0;
	for (int i = 0; i < ring.nkeks; i++)
	{
		ring.keks[i].aead = osk_aead_new(ring.keks[i].key);
		if (ring.keks[i].aead == NULL)
		{
			ring_wipe();
			crypto_failed("master key setup");
		}
		if (ring.keks[i].id > ring.keks[ring.current].id)
			ring.current = i;
	}
	ring.index_mac = osk_mac_new(ring.index_key, OSK_KEY_LEN);
	if (ring.index_mac == NULL)
	{
		ring_wipe();
		crypto_failed("blind-index key setup");
	}
	ring.source = MemoryContextStrdup(TopMemoryContext, source);
	ring.generation = settings_generation;
	ring.checked_lxid = MyProc->lxid;
	ring.loaded = true;
	/* backends forget the postmaster's exit callbacks: register here */
	if (exit_wipe_pid != MyProcPid)
	{
		on_proc_exit(keys_at_exit, (Datum) 0);
		exit_wipe_pid = MyProcPid;
	}
	pfree(source);
}

static text *fingerprint(const uint8_t key[OSK_KEY_LEN]);

/*
 * Privileged part of osk_index_mac(): compare the blind-index key's
 * fingerprint with the one this database's indexes were made with, and
 * record it on first use.  A wrong master key shows itself when a data key
 * does not unwrap; a wrong blind-index key would silently find nobody.
 */
static void
check_index_fingerprint(void *arg)
{
	text	   *fp = (text *) arg;
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {PointerGetDatum(fp)};
	bool		isnull;
	char	   *stored;

	if (SPI_execute("SELECT fingerprint FROM onshikaku.key_fingerprint WHERE key = 'blind_index'",
					true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the blind-index key fingerprint");
	if (SPI_processed == 0)
	{
		/* first use: record it, when this transaction may write */
		if (XactReadOnly || IsInParallelMode())
			return;
		if (SPI_execute_with_args("INSERT INTO onshikaku.key_fingerprint (key, fingerprint) "
								  "VALUES ('blind_index', $1) ON CONFLICT (key) DO NOTHING",
								  1, types, values, NULL, false, 0) != SPI_OK_INSERT ||
			SPI_execute("SELECT fingerprint FROM onshikaku.key_fingerprint WHERE key = 'blind_index'",
						false, 1) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "could not record the blind-index key fingerprint");
	}
	stored = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (strcmp(stored, text_to_cstring(fp)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("the blind_index key of the key file is not the one this database's blind indexes were made with"),
				 errdetail("Its fingerprint differs from onshikaku.key_fingerprint; every lookup would silently find nobody."),
				 errhint("Restore the key file that goes with this database.")));
}

OskMac *
osk_index_mac(void)
{
	ring_require();
	if (unlikely(!ring.index_checked))
	{
		osk_run_privileged(check_index_fingerprint, fingerprint(ring.index_key));
		ring.index_checked = true;
	}
	return ring.index_mac;
}

void
osk_nonce(uint8_t nonce[OSK_NONCE_LEN])
{
	if (osk_random_nonce(nonce) != OSK_CRYPTO_OK)
		crypto_failed("random nonce generation");
}

/* The ring's master key with an id, or NULL when the file lacks it. */
static Kek *
kek_by_id(int32 id)
{
	for (int i = 0; i < ring.nkeks; i++)
		if (ring.keks[i].id == id)
			return &ring.keks[i];
	return NULL;
}

/* Associated data of a wrapped data key: its id and scope. */
static size_t
wrap_aad(uint8_t *aad, int32 key_id, int64 insurer, int32 cohort)
{
	static const char label[] = "onshikaku/dek/v1";
	size_t		n = sizeof(label) - 1;

	memcpy(aad, label, n);
	for (int i = 3; i >= 0; i--)
		aad[n++] = (uint8_t) ((uint32) key_id >> (8 * i));
	for (int i = 7; i >= 0; i--)
		aad[n++] = (uint8_t) ((uint64) insurer >> (8 * i));
	for (int i = 3; i >= 0; i--)
		aad[n++] = (uint8_t) ((uint32) cohort >> (8 * i));
	return n;
}

/* Wrap a data key with a master key into out (WRAPPED_LEN). */
static void
wrap_dek(const uint8_t dek[OSK_KEY_LEN], int32 key_id, int64 insurer, int32 cohort,
		 Kek *kek, uint8_t out[WRAPPED_LEN])
{
	uint8_t		aad[64];
	size_t		aad_len = wrap_aad(aad, key_id, insurer, cohort);

	osk_nonce(out);
	if (osk_aead_seal(kek->aead, out, aad, aad_len, dek, OSK_KEY_LEN,
					  out + OSK_NONCE_LEN, out + OSK_NONCE_LEN + OSK_KEY_LEN) != OSK_CRYPTO_OK)
		crypto_failed("data key wrapping");
}

/* Unwrap a data key; raises a clear error for a missing or wrong master key. */
static void
unwrap_dek(const uint8_t *wrapped, int32 kek_id, int32 key_id, int64 insurer, int32 cohort,
		   uint8_t dek[OSK_KEY_LEN])
{
	uint8_t		aad[64];
	size_t		aad_len = wrap_aad(aad, key_id, insurer, cohort);
	Kek		   *kek = kek_by_id(kek_id);
	OskCryptoResult r;

	if (kek == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("data key %d is wrapped with master key %d, which the key file does not hold",
						key_id, kek_id),
				 errhint("Add kek.%d to the key file, or restore the key file that goes with this database.",
						 kek_id)));
	r = osk_aead_open(kek->aead, wrapped, aad, aad_len, wrapped + OSK_NONCE_LEN, OSK_KEY_LEN,
					  wrapped + OSK_NONCE_LEN + OSK_KEY_LEN, dek);
	if (r == OSK_CRYPTO_AUTH_FAILED)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("master key %d of the key file does not unwrap data key %d", kek_id, key_id),
				 errdetail("The key file is not the one this database's data keys were wrapped with, or the wrapped key was altered.")));
	if (r != OSK_CRYPTO_OK)
		crypto_failed("data key unwrapping");
}

/* Datum helpers for the SPI results. */
static int32
spi_int4(HeapTuple tup, int col, bool *isnull)
{
	Datum		d = SPI_getbinval(tup, SPI_tuptable->tupdesc, col, isnull);

	return *isnull ? 0 : DatumGetInt32(d);
}

typedef struct LoadArgs
{
	int32		key_id;
	bool		found;
	bool		destroyed;
	int32		kek_id;
	int64		insurer;
	int32		cohort;
	uint8_t		wrapped[WRAPPED_LEN];
} LoadArgs;

/* Privileged part of osk_data_key(): read one row of onshikaku.data_key. */
static void
load_dek_row(void *arg)
{
	LoadArgs   *a = arg;
	Oid			types[1] = {INT4OID};
	Datum		values[1] = {Int32GetDatum(a->key_id)};
	bool		isnull;
	HeapTuple	tup;
	bytea	   *w;

	if (SPI_execute_with_args("SELECT kek_id, wrapped, state, insurer, cohort "
							  "FROM onshikaku.data_key WHERE key_id = $1",
							  1, types, values, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read onshikaku.data_key");
	if (SPI_processed == 0)
		return;
	tup = SPI_tuptable->vals[0];
	a->found = true;
	a->kek_id = spi_int4(tup, 1, &isnull);
	w = (bytea *) DatumGetPointer(SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull));
	if (isnull)
	{
		a->destroyed = true;
		return;
	}
	w = pg_detoast_datum_packed(w);
	if (VARSIZE_ANY_EXHDR(w) != WRAPPED_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("wrapped data key %d has the wrong length", a->key_id)));
	memcpy(a->wrapped, VARDATA_ANY(w), WRAPPED_LEN);
	a->insurer = DatumGetInt64(SPI_getbinval(tup, SPI_tuptable->tupdesc, 4, &isnull));
	if (isnull)
		a->insurer = OSK_NO_INSURER;
	a->cohort = spi_int4(tup, 5, &isnull);
	if (isnull)
		a->cohort = OSK_ACTIVE_COHORT;
}

/* Make sure the caches exist and know the relation they follow. */
static void
caches_require(void)
{
	if (!OidIsValid(data_key_relid))
		data_key_relid = osk_relation_oid("data_key");
	if (dek_cache == NULL)
	{
		HASHCTL		ctl = {0};

		ctl.keysize = sizeof(int32);
		ctl.entrysize = sizeof(DekEntry);
		dek_cache = hash_create("onshikaku data keys", 64, &ctl, HASH_ELEM | HASH_BLOBS);
	}
	if (scope_cache == NULL)
	{
		HASHCTL		ctl = {0};

		ctl.keysize = sizeof(ScopeKey);
		ctl.entrysize = sizeof(ScopeEntry);
		scope_cache = hash_create("onshikaku active data keys", 64, &ctl, HASH_ELEM | HASH_BLOBS);
	}
}

OskAead *
osk_data_key(int32 key_id)
{
	DekEntry   *e;
	bool		found;
	LoadArgs	a = {0};
	uint8_t		dek[OSK_KEY_LEN];
	OskAead    *aead;

	ring_require();
	/* a statement usually reads values of one key: remember the last */
	if (likely(last_dek != NULL && last_dek->key_id == key_id && dek_cache != NULL))
		return last_dek->aead;
	caches_require();
	e = hash_search(dek_cache, &key_id, HASH_FIND, NULL);
	if (e != NULL)
	{
		last_dek = e;
		return e->aead;
	}

	a.key_id = key_id;
	osk_run_privileged(load_dek_row, &a);
	if (!a.found)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("data key %d does not exist", key_id),
				 errhint("The value was encrypted in another database, or onshikaku.data_key was not restored with it.")));
	if (a.destroyed)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("data key %d has been destroyed", key_id),
				 errdetail("Everything it protected was purged and the key was erased from this database.")));
	unwrap_dek(a.wrapped, a.kek_id, key_id, a.insurer, a.cohort, dek);
	osk_wipe(a.wrapped, sizeof(a.wrapped));
	aead = osk_aead_new(dek);
	osk_wipe(dek, sizeof(dek));
	if (aead == NULL)
		crypto_failed("data key setup");
	/* the unwrap may have run SPI: the cache may have been reset meanwhile */
	caches_require();
	e = hash_search(dek_cache, &key_id, HASH_ENTER, &found);
	if (found)
		osk_aead_free(e->aead);
	e->aead = aead;
	e->cohort = a.cohort;
	return aead;
}

int32
osk_data_key_cohort(int32 key_id)
{
	DekEntry   *e;

	(void) osk_data_key(key_id);
	e = hash_search(dek_cache, &key_id, HASH_FIND, NULL);
	Assert(e != NULL);
	return e->cohort;
}

typedef struct ScopeArgs
{
	ScopeKey	scope;
	bool		retire;			/* retire the active key first (rotation) */
	int32		key_id;			/* out */
	int32		retired_key_id; /* out, 0 if none */
} ScopeArgs;

/* Condition on (insurer, cohort) with $1, $2, NULLs matched explicitly. */
static char *
scope_condition(const ScopeKey *s)
{
	return psprintf("%s AND %s",
					s->insurer == OSK_NO_INSURER ? "insurer IS NULL" :
					"insurer OPERATOR(onshikaku.=) $1",
					s->cohort == OSK_ACTIVE_COHORT ? "cohort IS NULL" : "cohort = $2");
}

/*
 * Privileged part of osk_active_data_key(): find the scope's active key,
 * or create one.  A concurrent creation wins through the unique index and
 * is then read back.
 */
static void
find_or_create_active(void *arg)
{
	ScopeArgs  *a = arg;
	Oid			types[5];
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	char	   *cond = scope_condition(&a->scope);
	bool		isnull;

	types[0] = osk_type_oid("insurer_number");
	types[1] = INT4OID;
	values[0] = Int64GetDatum(a->scope.insurer);
	values[1] = Int32GetDatum(a->scope.cohort);
	if (a->scope.insurer == OSK_NO_INSURER)
		nulls[0] = 'n';
	if (a->scope.cohort == OSK_ACTIVE_COHORT)
		nulls[1] = 'n';

	if (a->retire)
	{
		if (SPI_execute_with_args(psprintf("UPDATE onshikaku.data_key SET state = 'retired', retired_at = now() "
										   "WHERE state = 'active' AND %s RETURNING key_id", cond),
								  2, types, values, nulls, false, 0) != SPI_OK_UPDATE_RETURNING)
			elog(ERROR, "could not retire the active data key");
		if (SPI_processed > 0)
			a->retired_key_id = spi_int4(SPI_tuptable->vals[0], 1, &isnull);
	}

	for (int attempt = 0; attempt < 3; attempt++)
	{
		uint8_t		dek[OSK_KEY_LEN];
		uint8_t		wrapped[WRAPPED_LEN];
		bytea	   *w;
		int32		new_id;

		if (SPI_execute_with_args(psprintf("SELECT key_id FROM onshikaku.data_key "
										   "WHERE state = 'active' AND %s", cond),
								  2, types, values, nulls, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read onshikaku.data_key");
		if (SPI_processed > 0)
		{
			a->key_id = spi_int4(SPI_tuptable->vals[0], 1, &isnull);
			return;
		}

		if (SPI_execute("SELECT nextval('onshikaku.data_key_key_id_seq')::int4", false, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not draw a data key id");
		new_id = spi_int4(SPI_tuptable->vals[0], 1, &isnull);
		if (osk_random_bytes(dek, OSK_KEY_LEN) != OSK_CRYPTO_OK)
			crypto_failed("data key generation");
		wrap_dek(dek, new_id, a->scope.insurer, a->scope.cohort, &ring.keks[ring.current], wrapped);
		osk_wipe(dek, sizeof(dek));
		w = palloc(VARHDRSZ + WRAPPED_LEN);
		SET_VARSIZE(w, VARHDRSZ + WRAPPED_LEN);
		memcpy(VARDATA(w), wrapped, WRAPPED_LEN);

		types[2] = INT4OID;
		values[2] = Int32GetDatum(new_id);
		types[3] = INT4OID;
		values[3] = Int32GetDatum(ring.keks[ring.current].id);
		types[4] = BYTEAOID;
		values[4] = PointerGetDatum(w);
		if (SPI_execute_with_args("INSERT INTO onshikaku.data_key (key_id, insurer, cohort, kek_id, wrapped) "
								  "VALUES ($3, $1, $2, $4, $5) ON CONFLICT DO NOTHING RETURNING key_id",
								  5, types, values, nulls, false, 0) != SPI_OK_INSERT_RETURNING)
			elog(ERROR, "could not store a data key");
		if (SPI_processed > 0)
		{
			/*
			 * Every backend's caches, this one's included, must forget the
			 * scope if this transaction aborts, or they would keep
			 * encrypting under a key that was never stored.
			 */
			CacheInvalidateRelcacheByRelid(osk_relation_oid("data_key"));
			a->key_id = new_id;
			return;
		}
	}
	ereport(ERROR,
			(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
			 errmsg("could not create the active data key of a scope concurrently with another session"),
			 errhint("Retry the transaction.")));
}

OskAead *
osk_active_data_key(int64 insurer, int32 cohort, int32 *key_id)
{
	ScopeArgs	a = {0};
	ScopeEntry *e;
	bool		found;
	OskAead    *aead;

	ring_require();
	caches_require();
	a.scope.insurer = insurer;
	a.scope.cohort = cohort;
	e = hash_search(scope_cache, &a.scope, HASH_FIND, NULL);
	if (e != NULL)
	{
		*key_id = e->key_id;
		return e->aead;
	}
	osk_run_privileged(find_or_create_active, &a);
	aead = osk_data_key(a.key_id);
	/* loading may have reset the caches: enter the scope afterwards */
	caches_require();
	e = hash_search(scope_cache, &a.scope, HASH_ENTER, &found);
	e->key_id = a.key_id;
	e->aead = aead;
	*key_id = a.key_id;
	return aead;
}

/*
 * onshikaku.rotate_data_key(insurer, cohort): retire the scope's active data
 * key and make a new one; values are moved to it by reencrypt_rotated().
 * Every backend drops its cached scope-to-key map at the next command.
 */
PG_FUNCTION_INFO_V1(osk_rotate_data_key);
Datum
osk_rotate_data_key(PG_FUNCTION_ARGS)
{
	ScopeArgs	a = {0};

	ring_require();
	a.scope.insurer = PG_ARGISNULL(0) ? OSK_NO_INSURER : PG_GETARG_INT64(0);
	a.scope.cohort = PG_ARGISNULL(1) ? OSK_ACTIVE_COHORT : PG_GETARG_INT32(1);
	a.retire = true;
	osk_run_privileged(find_or_create_active, &a);
	CacheInvalidateRelcacheByRelid(osk_relation_oid("data_key"));
	PG_RETURN_INT32(a.key_id);
}

typedef struct RewrapArgs
{
	Kek		   *target;
	int64		count;
} RewrapArgs;

/* Privileged part of rotate_master_key(): re-wrap every live data key. */
static void
rewrap_all(void *arg)
{
	RewrapArgs *r = arg;
	int32		current = r->target->id;
	Oid			types[3] = {INT4OID, INT4OID, BYTEAOID};
	uint64		n;
	SPITupleTable *tt;

	if (SPI_execute_with_args("SELECT key_id, kek_id, wrapped, insurer, cohort FROM onshikaku.data_key "
							  "WHERE wrapped IS NOT NULL AND kek_id <> $1 ORDER BY key_id FOR UPDATE",
							  1, types, (Datum[]) {Int32GetDatum(current)}, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read onshikaku.data_key");
	n = SPI_processed;
	tt = SPI_tuptable;
	SPI_tuptable = NULL;
	for (uint64 i = 0; i < n; i++)
	{
		HeapTuple	tup = tt->vals[i];
		bool		isnull;
		int32		key_id = DatumGetInt32(SPI_getbinval(tup, tt->tupdesc, 1, &isnull));
		int32		kek_id = DatumGetInt32(SPI_getbinval(tup, tt->tupdesc, 2, &isnull));
		bytea	   *w = pg_detoast_datum_packed((bytea *) DatumGetPointer(SPI_getbinval(tup, tt->tupdesc, 3, &isnull)));
		Datum		ins = SPI_getbinval(tup, tt->tupdesc, 4, &isnull);
		int64		insurer = isnull ? OSK_NO_INSURER : DatumGetInt64(ins);
		Datum		coh = SPI_getbinval(tup, tt->tupdesc, 5, &isnull);
		int32		cohort = isnull ? OSK_ACTIVE_COHORT : DatumGetInt32(coh);
		uint8_t		dek[OSK_KEY_LEN];
		bytea	   *nw = palloc(VARHDRSZ + WRAPPED_LEN);

		if (VARSIZE_ANY_EXHDR(w) != WRAPPED_LEN)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("wrapped data key %d has the wrong length", key_id)));
		unwrap_dek((uint8_t *) VARDATA_ANY(w), kek_id, key_id, insurer, cohort, dek);
		SET_VARSIZE(nw, VARHDRSZ + WRAPPED_LEN);
		wrap_dek(dek, key_id, insurer, cohort, r->target, (uint8_t *) VARDATA(nw));
		osk_wipe(dek, sizeof(dek));
		if (SPI_execute_with_args("UPDATE onshikaku.data_key SET kek_id = $1, wrapped = $3, rewrapped_at = now() "
								  "WHERE key_id = $2",
								  3, types,
								  (Datum[]) {Int32GetDatum(current), Int32GetDatum(key_id), PointerGetDatum(nw)},
								  NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not store a re-wrapped data key");
		r->count++;
	}
	SPI_freetuptable(tt);
}

/*
 * onshikaku.rotate_master_key([target]): re-wrap every data key with the
 * master key of the highest id in the key file, or with kek.<target>
 * (to move back, or to test).  Data are not touched; readers keep working
 * throughout, as long as the old master key stays in the file until this
 * has committed.
 */
PG_FUNCTION_INFO_V1(osk_rotate_master_key);
Datum
osk_rotate_master_key(PG_FUNCTION_ARGS)
{
	RewrapArgs	r = {0};

	ring_require();
	r.target = &ring.keks[ring.current];
	if (PG_NARGS() > 0 && !PG_ARGISNULL(0))
	{
		r.target = kek_by_id(PG_GETARG_INT32(0));
		if (r.target == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the key file holds no master key %d", PG_GETARG_INT32(0))));
	}
	osk_run_privileged(rewrap_all, &r);
	PG_RETURN_INT64(r.count);
}

/* First 8 bytes of HMAC(key, label), in hex: names a key without revealing it. */
static text *
fingerprint(const uint8_t key[OSK_KEY_LEN])
{
	static const char label[] = "onshikaku/fingerprint/v1";
	OskMac	   *m = osk_mac_new(key, OSK_KEY_LEN);
	uint8_t		out[OSK_MAC_LEN];
	char		hex[17];

	if (m == NULL || osk_mac_compute(m, (const uint8_t *) label, sizeof(label) - 1, out) != OSK_CRYPTO_OK)
	{
		osk_mac_free(m);
		crypto_failed("key fingerprint");
	}
	osk_mac_free(m);
	for (int i = 0; i < 8; i++)
		snprintf(hex + 2 * i, 3, "%02x", out[i]);
	return cstring_to_text(hex);
}

/*
 * onshikaku.key_status(): the keys this backend loaded, by kind and id,
 * with fingerprints, so a DBA can check which key file is in use.
 */
PG_FUNCTION_INFO_V1(osk_key_status);
Datum
osk_key_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	ring_require();
	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < ring.nkeks; i++)
	{
		values[0] = CStringGetTextDatum("master");
		values[1] = Int32GetDatum(ring.keks[i].id);
		values[2] = PointerGetDatum(fingerprint(ring.keks[i].key));
		values[3] = BoolGetDatum(i == ring.current);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	values[0] = CStringGetTextDatum("blind_index");
	nulls[1] = true;
	values[2] = PointerGetDatum(fingerprint(ring.index_key));
	values[3] = BoolGetDatum(true);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}

/* onshikaku.forget_keys(): wipe this backend's keys now. */
PG_FUNCTION_INFO_V1(osk_forget_keys);
Datum
osk_forget_keys(PG_FUNCTION_ARGS)
{
	ring_wipe();
	PG_RETURN_VOID();
}

/* Privileged part of destroy_data_key(): erase the wrapped key. */
static void
destroy_row(void *arg)
{
	int32	   *key_id = (int32 *) arg;
	Oid			types[1] = {INT4OID};
	Datum		values[1] = {Int32GetDatum(*key_id)};

	if (SPI_execute_with_args("UPDATE onshikaku.data_key SET wrapped = NULL, state = 'destroyed', "
							  "destroyed_at = pg_catalog.now() "
							  "WHERE key_id = $1 AND cohort IS NOT NULL AND state <> 'destroyed'",
							  1, types, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not destroy a data key");
	*key_id = SPI_processed > 0 ? *key_id : 0;
}

/*
 * onshikaku.destroy_data_key(key_id): erase a retention cohort's data key
 * (the purge calls it once nothing the key protects remains).  Every
 * backend's key caches are reset at commit, so none keeps the key in
 * memory.  Active keys (no cohort) are never destroyed.  Returns whether a
 * key was destroyed.
 */
PG_FUNCTION_INFO_V1(osk_destroy_data_key);
Datum
osk_destroy_data_key(PG_FUNCTION_ARGS)
{
	int32		key_id = PG_GETARG_INT32(0);

	osk_run_privileged(destroy_row, &key_id);
	if (key_id == 0)
		PG_RETURN_BOOL(false);
	CacheInvalidateRelcacheByRelid(osk_relation_oid("data_key"));
	dek_caches_reset();
	PG_RETURN_BOOL(true);
}
