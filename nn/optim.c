/* optim.c: optimizer state and steps over a network, and learning-rate
 * schedules (StepLR, CosineAnnealingLR, ReduceLROnPlateau as in
 * torch.optim.lr_scheduler). */
#include "nn/optim.h"
#include "common/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_SGD, OPT_ADAM, OPT_ADAMW, OPT_ADAMAX };

static int kind_of(const char *name)
{
	return !strcmp(name, "sgd") ? OPT_SGD : !strcmp(name, "adam") ? OPT_ADAM
	     : !strcmp(name, "adamw") ? OPT_ADAMW
	     : !strcmp(name, "adamax") ? OPT_ADAMAX : -1;
}

static int nstates(const qt_optim_cfg *c)
{
	switch (kind_of(c->name)) {
	case OPT_SGD: return c->momentum > 0;
	case OPT_ADAMAX: return 2;
	default: return 2 + (c->amsgrad != 0);
	}
}

const char *qt_optim_state_name(const qt_optim *o, int k)
{
	static const char *const sgd[] = {"momentum_buffer", NULL};
	static const char *const adam[] = {"exp_avg", "exp_avg_sq",
					   "max_exp_avg_sq", NULL};
	static const char *const adamax[] = {"exp_avg", "exp_inf", NULL};
	int n = nstates(&o->cfg), kind = kind_of(o->cfg.name);
	if (k < 0 || k >= n)
		return NULL;
	return kind == OPT_SGD ? sgd[k] : kind == OPT_ADAMAX ? adamax[k] : adam[k];
}

struct init_arg {
	int n;
};

static int alloc_state(void *arg, qt_node *node, qt_param *p)
{
	struct init_arg *a = arg;
	if (!p->grad)
		return 0;
	for (int k = 0; k < 3; k++) {
		qt_tensor_free(p->state[k]);
		p->state[k] = NULL;
	}
	for (int k = 0; k < a->n; k++)
		if (!(p->state[k] = qt_tensor_new(p->value->dtype, p->value->ndim,
						  p->value->shape)))
			return QT_ENOMEM;
	return 0;
}

int qt_optim_init(qt_optim *o, const qt_optim_cfg *cfg, qt_net *net)
{
	struct init_arg a;
	if (kind_of(cfg->name) < 0)
		return qt_error(QT_EUSAGE, "unknown optimizer '%s' (sgd, adam, "
				"adamw, adamax)", cfg->name);
	if (cfg->nesterov && (cfg->momentum <= 0 || cfg->dampening != 0))
		return qt_error(QT_EUSAGE, "nesterov momentum needs momentum > 0 "
				"and dampening 0");
	memset(o, 0, sizeof *o);
	o->cfg = *cfg;
	o->lr = cfg->lr;
	a.n = nstates(cfg);
	return qt_net_each_param(net, alloc_state, &a);
}

struct step_arg {
	qt_optim *o;
	qt_net *net;
};

static int step_param(void *arg, qt_node *node, qt_param *p)
{
	struct step_arg *a = arg;
	const qt_optim_cfg *c = &a->o->cfg;
	qt_ctx *ctx = &a->net->ctx;
	int64_t t = a->o->step;
	if (!p->grad)
		return 0;
	if (kind_of(c->name) == OPT_SGD) {
		qt_sgd_opts s = qt_sgd_defaults(a->o->lr);
		s.momentum = c->momentum;
		s.dampening = c->dampening;
		s.nesterov = c->nesterov;
		s.weight_decay = c->weight_decay;
		return qt_sgd_step(p->value, p->state[0], p->grad, &s, t, ctx);
	}
	qt_adam_opts ad = qt_adam_defaults();
	ad.lr = a->o->lr;
	ad.beta1 = c->beta1;
	ad.beta2 = c->beta2;
	ad.eps = c->eps;
	ad.weight_decay = c->weight_decay;
	ad.amsgrad = c->amsgrad;
	switch (kind_of(c->name)) {
	case OPT_ADAM:
		return qt_adam_step(p->value, p->state[0], p->state[1],
				    p->state[2], p->grad, &ad, t, ctx);
	case OPT_ADAMW:
		return qt_adamw_step(p->value, p->state[0], p->state[1],
				     p->state[2], p->grad, &ad, t, ctx);
	default:
		ad.amsgrad = 0;
		return qt_adamax_step(p->value, p->state[0], p->state[1],
				      p->grad, &ad, t, ctx);
	}
}

int qt_optim_step(qt_optim *o, qt_net *net)
{
	struct step_arg a = {o, net};
	o->step++;
	return qt_net_each_param(net, step_param, &a);
}

int qt_schedule_parse(qt_schedule *s, const char *text, double base_lr,
		      int epochs)
{
	char kind[16] = "";
	double a = NAN, b = NAN;
	int n;
	memset(s, 0, sizeof *s);
	s->base_lr = base_lr;
	s->best = INFINITY;
	n = sscanf(text, "%15[a-z]:%lf:%lf", kind, &a, &b);
	if (n < 1)
		return qt_error(QT_EUSAGE, "--schedule: cannot read '%s'", text);
	if (!strcmp(kind, "none") && n == 1) {
		s->kind = QT_SCHED_NONE;
	} else if (!strcmp(kind, "step") && n >= 2) {
		s->kind = QT_SCHED_STEP;
		s->step_size = (int)a;
		s->gamma = n >= 3 ? b : 0.1;
		if (s->step_size < 1 || a != floor(a) || !(s->gamma > 0))
			return qt_error(QT_EUSAGE, "--schedule step:EPOCHS[:GAMMA] "
					"needs EPOCHS >= 1 and GAMMA > 0");
	} else if (!strcmp(kind, "cosine")) {
		s->kind = QT_SCHED_COSINE;
		s->t_max = n >= 2 ? (int)a : epochs;
		s->min_lr = n >= 3 ? b : 0;
		if (s->t_max < 1 || !(s->min_lr >= 0))
			return qt_error(QT_EUSAGE, "--schedule cosine[:T_MAX"
					"[:MIN_LR]] needs T_MAX >= 1");
	} else if (!strcmp(kind, "plateau")) {
		s->kind = QT_SCHED_PLATEAU;
		s->patience = n >= 2 ? (int)a : 10;
		s->factor = n >= 3 ? b : 0.1;
		if (s->patience < 0 || !(s->factor > 0 && s->factor < 1))
			return qt_error(QT_EUSAGE, "--schedule plateau[:PATIENCE"
					"[:FACTOR]] needs 0 < FACTOR < 1");
	} else {
		return qt_error(QT_EUSAGE, "--schedule: unknown schedule '%s' "
				"(none, step:N[:G], cosine[:T[:MIN]], "
				"plateau[:P[:F]])", text);
	}
	return 0;
}

double qt_schedule_next(qt_schedule *s, int epoch, double loss,
			double current)
{
	switch (s->kind) {
	case QT_SCHED_STEP:
		return s->base_lr * pow(s->gamma, epoch / s->step_size);
	case QT_SCHED_COSINE: {
		int e = epoch < s->t_max ? epoch : s->t_max;
		return s->min_lr + (s->base_lr - s->min_lr) *
		       (1 + cos(M_PI * e / s->t_max)) / 2;
	}
	case QT_SCHED_PLATEAU:
		/* torch's default threshold: relative 1e-4, mode min */
		if (loss < s->best * (1 - 1e-4)) {
			s->best = loss;
			s->bad_epochs = 0;
		} else if (++s->bad_epochs > s->patience) {
			s->bad_epochs = 0;
			return current * s->factor;
		}
		return current;
	default:
		return current;
	}
}
