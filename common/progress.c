/* progress.c: the stderr progress bar (progress.h). */
#include "common/progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double qt_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void qt_progress_start(qt_progress *p, const char *label, int64_t total)
{
	memset(p, 0, sizeof *p);
	p->active = isatty(2) && !getenv("QUANTA_NO_PROGRESS");
	snprintf(p->label, sizeof p->label, "%s", label);
	p->total = total > 0 ? total : 1;
	p->start = qt_now();
}

void qt_progress_update(qt_progress *p, int64_t done, const char *info)
{
	char bar[31];
	double now, frac, eta;
	int fill;
	if (!p->active)
		return;
	now = qt_now();
	if (now - p->last < 0.1 && done < p->total)
		return;
	p->last = now;
	frac = (double)done / (double)p->total;
	if (frac > 1)
		frac = 1;
	fill = (int)(frac * 30);
	memset(bar, '#', (size_t)fill);
	memset(bar + fill, '.', (size_t)(30 - fill));
	bar[30] = 0;
	eta = frac > 0 ? (now - p->start) * (1 - frac) / frac : 0;
	fprintf(stderr, "\r%s [%s] %3.0f%% %s  ETA %.0fs\033[K", p->label, bar,
		frac * 100, info ? info : "", eta);
	fflush(stderr);
}

void qt_progress_end(qt_progress *p)
{
	if (p->active) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
	}
}
