/* progress.h: a progress bar on stderr, drawn only when stderr is a
 * terminal, at most ten times a second.
 *
 *   qt_progress p;
 *   qt_progress_start(&p, "epoch 3/15", total_batches);
 *   ... qt_progress_update(&p, done, "loss 0.912  41k samples/s");
 *   qt_progress_end(&p);      // clears the line
 */
#ifndef QT_PROGRESS_H
#define QT_PROGRESS_H

#include <stdint.h>

typedef struct qt_progress {
	int active;        /* stderr is a terminal */
	char label[64];
	int64_t total;
	double start, last;
} qt_progress;

void qt_progress_start(qt_progress *p, const char *label, int64_t total);
void qt_progress_update(qt_progress *p, int64_t done, const char *info);
void qt_progress_end(qt_progress *p);
/* Seconds since an arbitrary start (monotonic). */
double qt_now(void);

#endif
