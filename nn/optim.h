/* optim.h: optimizers over a network's parameters and learning-rate
 * schedules, with torch.optim's formulas and defaults (the update rules
 * themselves are kernels: qt_sgd_step, qt_adam_step, ...). */
#ifndef QT_OPTIM_H
#define QT_OPTIM_H

#include "nn/net.h"

typedef struct qt_optim {
	qt_optim_cfg cfg;
	int64_t step; /* updates done; the next is step + 1 */
	double lr;    /* the learning rate in force (schedules change it) */
} qt_optim;

/* Set up the optimizer and allocate its state beside every trainable
 * parameter (p->state[]); zeroed, as torch starts. */
int qt_optim_init(qt_optim *o, const qt_optim_cfg *cfg, qt_net *net);
/* One update of every trainable parameter from its gradient. */
int qt_optim_step(qt_optim *o, qt_net *net);
/* Names of the state buffers for checkpoints ("exp_avg", ...); NULL past
 * the last. */
const char *qt_optim_state_name(const qt_optim *o, int k);

typedef enum qt_sched_kind {
	QT_SCHED_NONE, QT_SCHED_STEP, QT_SCHED_COSINE, QT_SCHED_PLATEAU
} qt_sched_kind;

typedef struct qt_schedule {
	qt_sched_kind kind;
	double base_lr;
	int step_size;       /* step: every step_size epochs ... */
	double gamma;        /* ... multiply by gamma (StepLR) */
	int t_max;           /* cosine: epochs to the minimum */
	double min_lr;       /* cosine eta_min; plateau min_lr */
	int patience;        /* plateau: epochs without improvement */
	double factor;       /* plateau: multiply by factor */
	double best;         /* plateau state */
	int bad_epochs;
} qt_schedule;

/* Parse "step:EPOCHS[:GAMMA]", "cosine[:T_MAX[:MIN_LR]]",
 * "plateau[:PATIENCE[:FACTOR]]" or "none". */
int qt_schedule_parse(qt_schedule *s, const char *text, double base_lr,
		      int epochs);
/* The learning rate for the epoch after `epoch` (1-based, just ended),
 * given that epoch's validation (or training) loss. */
double qt_schedule_next(qt_schedule *s, int epoch, double loss,
			double current);

#endif
