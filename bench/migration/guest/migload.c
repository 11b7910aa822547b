/*
 * migload: the guest workload of the live-migration benchmark (bench/migration.ts).
 *
 *   migload [--tick] [--dirty MIB_PER_SEC] [--size MIB]
 *
 * --tick writes one byte '.' to stdout (the serial console) every 1 ms of
 * CLOCK_MONOTONIC. The host timestamps the dots as they arrive from the source machine's
 * console and then from the destination's: the largest gap between two consecutive dots
 * is the blackout of the migration as a guest's client would see it (the guest stopped,
 * its last pages and devices sent, the destination started and its console flowing),
 * which is what a machine's own "downtime" figure claims to measure. The dots are paced
 * by absolute deadlines (clock_nanosleep TIMER_ABSTIME) so that lateness does not
 * accumulate; a tick that falls behind skips to the next deadline instead of writing a
 * burst, so a stall shows up as one gap, not as a gap hidden by a catch-up flood.
 *
 * --dirty R --size S gives the migration a known dirty rate: S MiB are allocated and
 * every page touched once (so all of them are resident and non-zero, and must be sent),
 * then one 8-byte word is written into each successive 4 KiB page, round-robin, at R MiB
 * of pages per second. The pace is checked every 1 ms against the time since the start,
 * so the rate is even; a debt of more than 100 ms (the guest was stopped, or starved) is
 * dropped rather than paid in a burst. Each write stores a new value, so no page is ever
 * all zero (which a migration would send cheaply).
 *
 * The memory is touched before anything else, so the first '.' also says that the
 * workload runs at its full rate: the host waits for it before timing anything. With
 * both, the ticker and the dirtier run as two threads. It runs until killed.
 * Build: build.sh beside this file (a static, stripped riscv64 Linux binary).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096u
#define MIB (1024u * 1024u)
#define STEP_NS 1000000L /* 1 ms: the tick period and the dirtier's pacing step */
#define MAX_DEBT_NS (100 * STEP_NS)

static uint64_t now_ns(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void sleep_until(uint64_t ns) {
	struct timespec t = { .tv_sec = (time_t)(ns / 1000000000u), .tv_nsec = (long)(ns % 1000000000u) };
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR) {}
}

static void fail(const char *msg) {
	write(2, msg, strlen(msg));
	exit(2);
}

static void *ticker(void *arg) {
	(void)arg;
	uint64_t next = now_ns() + STEP_NS;
	for (;;) {
		sleep_until(next);
		write(1, ".", 1);
		next += STEP_NS;
		uint64_t now = now_ns();
		if (now >= next) next += (now - next) / STEP_NS * STEP_NS + STEP_NS; /* skip, no burst */
	}
	return NULL;
}

struct dirty { uint64_t rate_mib; uint64_t size_mib; uint8_t *mem; uint64_t value; };

/* Allocates the memory and makes every page resident and non-zero. */
static void touch(struct dirty *d) {
	uint64_t pages = d->size_mib * (MIB / PAGE);
	d->mem = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (d->mem == MAP_FAILED) fail("migload: cannot allocate --size MiB\n");
	for (uint64_t p = 0; p < pages; p++) *(volatile uint64_t *)(d->mem + p * PAGE) = ++d->value;
}

static void *dirtier(void *arg) {
	struct dirty *d = arg;
	uint8_t *mem = d->mem;
	uint64_t value = d->value, pages = d->size_mib * (MIB / PAGE);
	uint64_t per_sec = d->rate_mib * (MIB / PAGE);
	uint64_t start = now_ns(), done = 0, page = 0;
	for (uint64_t next = start + STEP_NS;; next += STEP_NS) {
		sleep_until(next);
		uint64_t now = now_ns();
		if (now > next + MAX_DEBT_NS) { /* stopped or starved: forgive the debt */
			start += now - next;
			next = now;
		}
		uint64_t t = now - start; /* split so that the product cannot overflow */
		uint64_t due = t / 1000000000u * per_sec + t % 1000000000u * per_sec / 1000000000u;
		for (; done < due; done++) {
			*(volatile uint64_t *)(mem + page * PAGE) = ++value;
			if (++page == pages) page = 0;
		}
	}
	return NULL;
}

static uint64_t count(const char *text, const char *flag) {
	char *end;
	errno = 0;
	unsigned long long n = strtoull(text, &end, 10);
	if (errno || *end || !*text || n == 0 || n > 1u << 20) {
		write(2, "migload: ", 9);
		write(2, flag, strlen(flag));
		fail(" wants a whole number of MiB (1..1048576)\n");
	}
	return n;
}

int main(int argc, char **argv) {
	static const char usage[] = "usage: migload [--tick] [--dirty MIB_PER_SEC] [--size MIB]\n";
	int tick = 0;
	struct dirty d = { 0, 0, NULL, 0 };
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--tick")) tick = 1;
		else if (!strcmp(argv[i], "--dirty") && i + 1 < argc) d.rate_mib = count(argv[++i], "--dirty");
		else if (!strcmp(argv[i], "--size") && i + 1 < argc) d.size_mib = count(argv[++i], "--size");
		else fail(usage);
	}
	if (!tick && !d.rate_mib) fail(usage);
	if (!d.rate_mib != !d.size_mib) fail("migload: --dirty and --size go together\n");

	pthread_t t;
	if (d.rate_mib) {
		touch(&d);
		if (pthread_create(&t, NULL, dirtier, &d) != 0) fail("migload: cannot start the dirtier thread\n");
	}
	if (tick) ticker(NULL); /* never returns */
	pthread_join(t, NULL);  /* --dirty alone */
	return 0;
}
