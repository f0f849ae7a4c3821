/* replay.c: run the fuzz target without libFuzzer, so that `make test`
 * and `make sanitize` exercise it with gcc: every file of the corpus
 * folders given as arguments, then a fixed number of seeded random
 * mutations of them (bit flips, byte changes, truncations, insertions of
 * MessagePack size markers).  Prints TAP. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXFILES 256

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

int main(int argc, char **argv)
{
	static uint8_t *files[MAXFILES];
	static size_t sizes[MAXFILES];
	int nf = 0;
	long runs = 0;
	const char *env = getenv("FUZZ_RUNS");
	long want = env ? strtol(env, NULL, 10) : 20000;

	for (int a = 1; a < argc; a++) {
		DIR *d = opendir(argv[a]);
		struct dirent *e;
		if (!d) {
			printf("not ok 1 - cannot open corpus %s\n", argv[a]);
			return 1;
		}
		while ((e = readdir(d)) && nf < MAXFILES) {
			char path[4096];
			FILE *f;
			long n;
			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof path, "%s/%s", argv[a], e->d_name);
			if (!(f = fopen(path, "rb")))
				continue;
			fseek(f, 0, SEEK_END);
			n = ftell(f);
			rewind(f);
			files[nf] = malloc(n > 0 ? (size_t)n : 1);
			sizes[nf] = fread(files[nf], 1, n > 0 ? (size_t)n : 0, f);
			fclose(f);
			LLVMFuzzerTestOneInput(files[nf], sizes[nf]);
			nf++;
		}
		closedir(d);
	}
	printf("%s 1 - replay %d corpus files\n", nf ? "ok" : "not ok", nf);
	if (!nf)
		return 1;
	for (runs = 0; runs < want; runs++) {
		int k = (int)(next() % (uint64_t)nf);
		size_t n = sizes[k] + 8;
		uint8_t *buf = malloc(n);
		memcpy(buf, files[k], sizes[k]);
		n = sizes[k];
		int edits = 1 + (int)(next() % 4);
		for (int i = 0; i < edits && n; i++) {
			size_t at = (size_t)(next() % n);
			switch (next() % 5) {
			case 0: buf[at] ^= (uint8_t)(1u << (next() % 8)); break;
			case 1: buf[at] = (uint8_t)next(); break;
			case 2: n = at; break; /* truncate */
			case 3: buf[at] = (uint8_t[]){0xc4, 0xc5, 0xc6, 0xdc,
				0xdd, 0xde, 0xdf, 0xff}[next() % 8]; break;
			case 4: buf[at] = 0xff; if (at + 1 < n) buf[at + 1] = 0xff; break;
			}
		}
		LLVMFuzzerTestOneInput(buf, n);
		free(buf);
	}
	printf("ok 2 - %ld random mutations\n", runs);
	for (int i = 0; i < nf; i++)
		free(files[i]);
	printf("1..2\n");
	return 0;
}
