/* train.c: the training loop (train.h).
 *
 * Data: the training stream is read into memory once, then each epoch
 * visits it in an order drawn from (seed, epoch), in minibatches of
 * `batch` samples (the last one smaller; a last batch of one sample is
 * skipped when the model has batch normalisation, which cannot train on
 * one sample).  Validation runs in inference mode after each epoch.
 * The checkpoint written at the end holds the last epoch's state; with
 * early stopping it is written whenever an epoch lowers the validation
 * loss, and then holds the best epoch's whole state (weights, optimizer,
 * schedule, history up to it), as if training had ended there. */
#include "nn/train.h"
#include "common/cli.h"
#include "common/error.h"
#include "common/progress.h"
#include "common/provjson.h"
#include "common/threadpool.h"
#include "nn/checkpoint.h"
#include "nn/layer.h"
#include "nn/optim.h"

#include <jansson.h>
#include <sys/stat.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int qt_read_all(const char *endpoint, qt_header **hp, qt_batch **all)
{
	qt_reader *r;
	qt_batch **parts = NULL, *b;
	int n = 0, cap = 0, rc;
	if ((rc = qt_reader_open(&r, endpoint)) < 0)
		return rc;
	while ((rc = qt_reader_next(r, &b)) > 0) {
		if (n == cap) {
			qt_batch **np = realloc(parts, (size_t)(cap ? cap * 2 : 64)
						* sizeof *np);
			if (!np) {
				qt_batch_free(b);
				rc = qt_error(QT_ENOMEM, "out of memory");
				break;
			}
			parts = np;
			cap = cap ? cap * 2 : 64;
		}
		parts[n++] = b;
	}
	if (rc == 0 && n == 0)
		rc = qt_error(QT_EFORMAT, "%s: the stream holds no samples",
			      strcmp(endpoint, "-") ? endpoint : "input");
	if (rc == 0) {
		*all = qt_batch_concat(qt_reader_header(r), parts, n);
		if (!*all)
			rc = QT_ENOMEM;
		else if (!(*hp = qt_header_clone(qt_reader_header(r))))
			rc = qt_error(QT_ENOMEM, "out of memory");
	}
	for (int i = 0; i < n; i++)
		qt_batch_free(parts[i]);
	free(parts);
	qt_reader_close(r);
	return rc < 0 ? rc : 0;
}

/* ---- metrics of one pass ---- */

struct pass_stats {
	double loss_sum;   /* sum over batches of loss * n */
	int64_t n;
	int64_t correct, counted; /* classification accuracy */
};

/* Accuracy of the first cross-entropy loss: argmax over the class axis. */
static void count_correct(const qt_net *net, struct pass_stats *s)
{
	const qt_loss *l = NULL;
	for (int i = 0; i < net->nlosses && !l; i++)
		if (net->losses[i].kind == QT_LOSS_CE)
			l = &net->losses[i];
	if (!l)
		return;
	const qt_node *p = &net->nodes[l->pred];
	int64_t C = p->shape[0], inner = qt_shape_numel(p->ndim - 1, p->shape + 1);
	const int64_t *y = net->targets[l->target].value->data;
	for (int64_t i = 0; i < net->n; i++)
		for (int64_t q = 0; q < inner; q++) {
			int64_t best = 0;
			double bv = -INFINITY;
			for (int64_t c = 0; c < C; c++) {
				int64_t at = (i * C + c) * inner + q;
				double v = net->dtype == QT_F32
					? ((const float *)p->out->data)[at]
					: ((const double *)p->out->data)[at];
				if (v > bv) {
					bv = v;
					best = c;
				}
			}
			s->correct += best == y[i * inner + q];
			s->counted++;
		}
}

static int has_batchnorm(const qt_net *net)
{
	for (int i = 0; i < net->nnodes; i++)
		if (net->nodes[i].layer &&
		    !strcmp(net->nodes[i].layer->name, "batchnorm"))
			return 1;
	return 0;
}

static int evaluate(qt_net *net, const qt_batch *data, const int64_t *idx,
		    int64_t count, struct pass_stats *s)
{
	memset(s, 0, sizeof *s);
	for (int64_t at = 0; at < count; at += net->max_batch) {
		int64_t n = count - at < net->max_batch ? count - at
							: net->max_batch;
		double loss;
		int rc = qt_net_load(net, data, idx + at, n);
		if (!rc)
			rc = qt_net_forward(net, 0, &loss);
		if (rc < 0)
			return rc;
		s->loss_sum += loss * (double)n;
		s->n += n;
		count_correct(net, s);
	}
	return 0;
}

/* ---- the state JSON ---- */

static char *state_json(const qt_net *net, const qt_optim *o, int epoch,
			const qt_train_opts *opt, double best, int bad,
			int batch, const qt_schedule *sch)
{
	json_t *s = json_object(), *oj = json_object();
	char *txt;
	json_object_set_new(s, "epoch", json_integer(epoch));
	json_object_set_new(s, "step", json_integer(o->step));
	json_object_set_new(oj, "name", json_string(o->cfg.name));
	json_object_set_new(oj, "lr", json_real(o->lr));
	json_object_set_new(oj, "base_lr", json_real(o->cfg.lr));
	json_object_set_new(oj, "momentum", json_real(o->cfg.momentum));
	json_object_set_new(oj, "dampening", json_real(o->cfg.dampening));
	json_object_set_new(oj, "nesterov", json_boolean(o->cfg.nesterov));
	json_object_set_new(oj, "beta1", json_real(o->cfg.beta1));
	json_object_set_new(oj, "beta2", json_real(o->cfg.beta2));
	json_object_set_new(oj, "eps", json_real(o->cfg.eps));
	json_object_set_new(oj, "weight_decay", json_real(o->cfg.weight_decay));
	json_object_set_new(oj, "amsgrad", json_boolean(o->cfg.amsgrad));
	json_object_set_new(s, "optimizer", oj);
	json_object_set_new(s, "batch", json_integer(batch));
	json_object_set_new(s, "seed", json_integer((json_int_t)opt->seed));
	json_object_set_new(s, "schedule", json_string(opt->schedule ?
						       opt->schedule : "none"));
	json_object_set_new(s, "plateau_best", json_real(isfinite(sch->best) ?
							 sch->best : 1e308));
	json_object_set_new(s, "plateau_bad", json_integer(sch->bad_epochs));
	json_object_set_new(s, "best_val_loss", json_real(isfinite(best) ? best
						       : 1e308));
	json_object_set_new(s, "bad_epochs", json_integer(bad));
	json_object_set_new(s, "threads", json_integer(opt->threads));
	txt = json_dumps(s, JSON_COMPACT);
	json_decref(s);
	(void)net;
	return txt;
}

static double jnum(json_t *o, const char *k, double def)
{
	json_t *v = json_object_get(o, k);
	return json_is_number(v) ? json_number_value(v) : def;
}

/* ---- the loop ---- */

struct trainer {
	const qt_train_opts *opt;
	qt_model *model;
	qt_net *net;
	qt_optim optim;
	qt_schedule sched;
	qt_header *h, *vh;
	qt_batch *data, *vdata;
	int64_t *order, ntrain, *vidx, nval;
	const qt_batch *vsrc;
	qt_pool *pool;
	qt_ckpt meta;
	FILE *log;
	int epoch0, epochs, batch;
	double best;
	int bad;
	int saved_best;      /* early stopping wrote the best epoch, */
	int best_epoch;      /* this one */
};

static int same_file(const char *a, const char *b)
{
	struct stat sa, sb;
	return !stat(a, &sa) && !stat(b, &sb) && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

static int save(struct trainer *t, int epoch)
{
	free(t->meta.state);
	t->meta.state = state_json(t->net, &t->optim, epoch, t->opt, t->best,
				   t->bad, t->batch, &t->sched);
	if (!t->meta.state)
		return QT_ENOMEM;
	return qt_ckpt_save(t->opt->output, t->net, &t->optim, &t->meta);
}

static int run_epoch(struct trainer *t, int epoch, struct pass_stats *s,
		     double *secs)
{
	qt_net *net = t->net;
	qt_rng rng;
	qt_progress bar;
	char label[64], info[128];
	int bn = has_batchnorm(net), rc = 0;
	int64_t nb = (t->ntrain + t->batch - 1) / t->batch, bi = 0;
	double t0 = qt_now();

	/* The order depends on (seed, epoch) only: resumable. */
	qt_rng_seed(&rng, t->opt->seed, 1000 + (uint64_t)epoch);
	for (int64_t i = 0; i < t->ntrain; i++)
		t->order[i] = i;
	qt_rng_shuffle(&rng, t->order, t->ntrain);
	memset(s, 0, sizeof *s);
	snprintf(label, sizeof label, "epoch %d/%d", epoch, t->epochs);
	qt_progress_start(&bar, label, nb);
	for (int64_t at = 0; at < t->ntrain; at += t->batch, bi++) {
		int64_t n = t->ntrain - at < t->batch ? t->ntrain - at : t->batch;
		double loss;
		if (n == 1 && bn && t->ntrain > 1)
			break;
		if ((rc = qt_net_train_step(net, t->data, t->order + at, n,
					     &loss)) < 0)
			break;
		if (!isfinite(loss)) {
			rc = qt_error(QT_ENUMERIC, "the loss became %g at epoch %d, "
				      "batch %lld: training stopped (try a lower "
				      "--lr)%s", loss, epoch, (long long)bi + 1,
				      t->opt->checkpoint_every ? "; the last "
				      "checkpoint written is kept" : "");
			break;
		}
		if ((rc = qt_optim_step(&t->optim, net)) < 0)
			break;
		s->loss_sum += loss * (double)n;
		s->n += n;
		count_correct(net, s);
		snprintf(info, sizeof info, "batch %lld/%lld  loss %.4f  "
			 "%.0f samples/s", (long long)bi + 1, (long long)nb,
			 s->loss_sum / (double)s->n,
			 (double)s->n / (qt_now() - t0 + 1e-9));
		qt_progress_update(&bar, bi + 1, info);
	}
	qt_progress_end(&bar);
	*secs = qt_now() - t0;
	return rc;
}

static void log_epoch(struct trainer *t, int epoch, const struct pass_stats *s,
		      const struct pass_stats *v, double secs, double lr)
{
	int row = epoch - 1;
	double loss = s->loss_sum / (double)(s->n ? s->n : 1);
	char line[512];
	int len;
	qt_history_add(&t->meta.hist, row, "epoch", epoch);
	qt_history_add(&t->meta.hist, row, "loss", loss);
	len = snprintf(line, sizeof line, "{\"epoch\": %d, \"loss\": %.8g", epoch,
		       loss);
	if (s->counted) {
		double acc = (double)s->correct / (double)s->counted;
		qt_history_add(&t->meta.hist, row, "accuracy", acc);
		len += snprintf(line + len, sizeof line - (size_t)len,
				", \"accuracy\": %.8g", acc);
	}
	if (v && v->n) {
		double vl = v->loss_sum / (double)v->n;
		qt_history_add(&t->meta.hist, row, "val_loss", vl);
		len += snprintf(line + len, sizeof line - (size_t)len,
				", \"val_loss\": %.8g", vl);
		if (v->counted) {
			double va = (double)v->correct / (double)v->counted;
			qt_history_add(&t->meta.hist, row, "val_accuracy", va);
			len += snprintf(line + len, sizeof line - (size_t)len,
					", \"val_accuracy\": %.8g", va);
		}
	}
	qt_history_add(&t->meta.hist, row, "lr", lr);
	qt_history_add(&t->meta.hist, row, "seconds", secs);
	qt_history_add(&t->meta.hist, row, "samples_per_s",
		       (double)s->n / (secs > 0 ? secs : 1e-9));
	snprintf(line + len, sizeof line - (size_t)len,
		 ", \"lr\": %.8g, \"seconds\": %.4f, \"samples_per_s\": %.1f}",
		 lr, secs, (double)s->n / (secs > 0 ? secs : 1e-9));
	if (t->log) {
		fprintf(t->log, "%s\n", line);
		fflush(t->log);
	}
	if (!t->opt->quiet) {
		fprintf(stderr, "quanta-train: epoch %d/%d  loss %.4f", epoch,
			t->epochs, loss);
		if (s->counted)
			fprintf(stderr, "  acc %.4f",
				(double)s->correct / (double)s->counted);
		if (v && v->n) {
			fprintf(stderr, "  val_loss %.4f", v->loss_sum / (double)v->n);
			if (v->counted)
				fprintf(stderr, "  val_acc %.4f",
					(double)v->correct / (double)v->counted);
		}
		fprintf(stderr, "  lr %.3g  %.0f samples/s  %.1fs\n", lr,
			(double)s->n / (secs > 0 ? secs : 1e-9), secs);
	}
}

/* Settings: model file, then the checkpoint being resumed, then options. */
static int setup_optimizer(struct trainer *t, json_t *state)
{
	const qt_train_opts *o = t->opt;
	qt_optim_cfg cfg = t->net->optim;
	if (state) {
		json_t *oj = json_object_get(state, "optimizer");
		const char *name = json_string_value(json_object_get(oj, "name"));
		if (name)
			snprintf(cfg.name, sizeof cfg.name, "%s", name);
		cfg.lr = jnum(oj, "base_lr", cfg.lr);
		cfg.momentum = jnum(oj, "momentum", cfg.momentum);
		cfg.dampening = jnum(oj, "dampening", cfg.dampening);
		cfg.nesterov = json_is_true(json_object_get(oj, "nesterov"));
		cfg.beta1 = jnum(oj, "beta1", cfg.beta1);
		cfg.beta2 = jnum(oj, "beta2", cfg.beta2);
		cfg.eps = jnum(oj, "eps", cfg.eps);
		cfg.weight_decay = jnum(oj, "weight_decay", cfg.weight_decay);
		cfg.amsgrad = json_is_true(json_object_get(oj, "amsgrad"));
	}
	if (o->optimizer && strcmp(o->optimizer, cfg.name)) {
		/* Another optimizer: its defaults, then the options. */
		double lr = cfg.lr;
		memset(&cfg, 0, sizeof cfg);
		snprintf(cfg.name, sizeof cfg.name, "%s", o->optimizer);
		cfg.lr = !strcmp(o->optimizer, "adamax") ? 2e-3
		       : !strcmp(o->optimizer, "sgd") ? lr : 1e-3;
		cfg.beta1 = 0.9;
		cfg.beta2 = 0.999;
		cfg.eps = 1e-8;
		cfg.weight_decay = !strcmp(o->optimizer, "adamw") ? 1e-2 : 0;
	}
	if (o->lr >= 0)
		cfg.lr = o->lr;
	if (o->weight_decay >= 0)
		cfg.weight_decay = o->weight_decay;
	return qt_optim_init(&t->optim, &cfg, t->net);
}

static int load_validation(struct trainer *t)
{
	const qt_train_opts *o = t->opt;
	int rc;
	if (o->val_input) {
		if ((rc = qt_read_all(o->val_input, &t->vh, &t->vdata)) < 0)
			return qt_error_prefix(rc, "validation stream: ");
		/* Same fields, same shapes as training. */
		for (int i = 0; i < t->h->nfields; i++) {
			int j = qt_header_find(t->vh, t->h->fields[i].name);
			if (j < 0 || t->vh->fields[j].dtype != t->h->fields[i].dtype ||
			    t->vh->fields[j].ndim != t->h->fields[i].ndim ||
			    memcmp(t->vh->fields[j].shape, t->h->fields[i].shape,
				   sizeof t->h->fields[i].shape))
				return qt_error(QT_ESHAPE, "the validation stream's "
						"field '%s' differs from the "
						"training stream's",
						t->h->fields[i].name);
		}
		t->nval = t->vdata->n;
		t->vidx = malloc((size_t)(t->nval ? t->nval : 1) * sizeof *t->vidx);
		if (!t->vidx)
			return QT_ENOMEM;
		for (int64_t i = 0; i < t->nval; i++)
			t->vidx[i] = i;
		if (t->vh->nfields != t->h->nfields)
			return qt_error(QT_ESHAPE, "the validation stream has %d "
					"fields, the training stream %d",
					t->vh->nfields, t->h->nfields);
		for (int i = 0; i < t->h->nfields; i++)
			if (strcmp(t->vh->fields[i].name, t->h->fields[i].name))
				return qt_error(QT_ESHAPE, "the validation stream's "
						"fields are in another order");
		t->vsrc = t->vdata;
		return 0;
	}
	if (o->val_fraction > 0) {
		qt_rng rng;
		int64_t n = t->data->n, nv = (int64_t)llround(o->val_fraction *
							      (double)n);
		int64_t *perm = malloc((size_t)n * sizeof *perm);
		if (!perm)
			return QT_ENOMEM;
		if (nv < 1 || nv >= n) {
			free(perm);
			return qt_error(QT_EUSAGE, "--val-fraction %g of %lld "
					"samples leaves no training or no "
					"validation data", o->val_fraction,
					(long long)n);
		}
		qt_rng_seed(&rng, o->seed, 999);
		qt_rng_permutation(&rng, perm, n);
		/* training samples first (kept in stream order), then val */
		t->vidx = malloc((size_t)nv * sizeof *t->vidx);
		int64_t *tidx = malloc((size_t)(n - nv) * sizeof *tidx);
		char *isval = calloc((size_t)n, 1);
		if (!t->vidx || !tidx || !isval) {
			free(perm);
			free(tidx);
			free(isval);
			return QT_ENOMEM;
		}
		for (int64_t i = 0; i < nv; i++)
			isval[perm[n - nv + i]] = 1;
		int64_t a = 0, b = 0;
		for (int64_t i = 0; i < n; i++) {
			if (isval[i])
				t->vidx[b++] = i;
			else
				tidx[a++] = i;
		}
		qt_batch *train = qt_batch_take(t->h, t->data, tidx, n - nv);
		qt_batch *val = qt_batch_take(t->h, t->data, t->vidx, nv);
		free(perm);
		free(tidx);
		free(isval);
		if (!train || !val) {
			qt_batch_free(train);
			qt_batch_free(val);
			return QT_ENOMEM;
		}
		qt_batch_free(t->data);
		t->data = train;
		t->vdata = val;
		t->nval = nv;
		for (int64_t i = 0; i < nv; i++)
			t->vidx[i] = i;
		t->vsrc = t->vdata;
	}
	return 0;
}

int qt_train(const qt_train_opts *o)
{
	struct trainer t = {.opt = o, .best = INFINITY};
	qt_ckpt resume = {0};
	json_t *state = NULL;
	qt_net_cfg cfg = {.dtype = QT_F32};
	int rc, epoch = 0, early;

	if (o->resume) {
		if ((rc = qt_ckpt_open(&resume, o->resume)) < 0)
			goto out;
		state = json_loads(resume.state, 0, NULL);
		if (!state) {
			rc = qt_error(QT_EFORMAT, "%s: unreadable training state",
				      o->resume);
			goto out;
		}
		char **set = NULL;
		int nset = 0;
		if (o->nset)
			rc = qt_error(QT_EUSAGE, "--set cannot change the model of "
				      "a run being resumed");
		if (!rc)
			rc = qt_ckpt_set_parse(resume.model_set, &set, &nset);
		if (!rc)
			rc = qt_model_parse_set(&t.model, resume.model_path ?
						resume.model_path : o->resume,
						resume.model,
						(const char *const *)set, nset);
		if (!rc && !(t.meta.model_set = strdup(resume.model_set ?
							resume.model_set : "[]")))
			rc = QT_ENOMEM;
		qt_free_list(set, nset);
	} else {
		rc = qt_model_load_set(&t.model, o->model, o->set, o->nset);
		if (!rc && !(t.meta.model_set = qt_ckpt_set_json(o->set, o->nset)))
			rc = QT_ENOMEM;
	}
	if (rc < 0)
		goto out;
	if ((rc = qt_read_all(o->input, &t.h, &t.data)) < 0)
		goto out;

	/* Sizes: options, else the checkpoint's, else the model file's. */
	{
		qt_net *probe = NULL;
		qt_net_cfg pc = {.dtype = QT_F32, .max_batch = 1};
		if ((rc = qt_net_build(&probe, t.model, &pc)) < 0)
			goto out;
		t.epochs = o->epochs ? o->epochs : probe->epochs ? probe->epochs : 10;
		t.batch = o->batch ? o->batch : state ? (int)jnum(state, "batch", 32)
			: probe->batch ? probe->batch : 32;
		qt_net_free(probe);
	}
	if ((rc = load_validation(&t)) < 0)
		goto out;
	t.ntrain = t.data->n;
	if (t.ntrain < 1) {
		rc = qt_error(QT_EFORMAT, "no training samples");
		goto out;
	}
	/* threads <= 0: one per CPU.  Results do not depend on it. */
	if (!(t.pool = qt_pool_new(o->threads))) {
		rc = qt_error(QT_ENOMEM, "cannot start %d threads", o->threads);
		goto out;
	}
	cfg.max_batch = t.batch;
	cfg.seed = o->seed;
	cfg.ctx.device = QT_CPU;
	cfg.ctx.pool = t.pool;
	cfg.chunked = 1;
	if ((rc = qt_net_build(&t.net, t.model, &cfg)) < 0 ||
	    (rc = qt_net_bind(t.net, t.h)) < 0)
		goto out;
	for (int k = 0; k < t.net->ntargets; k++)
		if (t.net->targets[k].field < 0) {
			rc = qt_error(QT_EFORMAT, "%s:%d: the stream has no field "
				      "'%s' for this target", t.net->path,
				      t.net->targets[k].line,
				      t.net->targets[k].name);
			goto out;
		}
	if (t.net->nlosses == 0) {
		rc = qt_error(QT_EFORMAT, "%s: the model has no loss line; "
			      "nothing to train", t.net->path);
		goto out;
	}
	if ((rc = setup_optimizer(&t, state)) < 0)
		goto out;
	if (resume.path) {
		if ((rc = qt_ckpt_load(&resume, t.net, &t.optim)) < 0)
			goto out;
		t.optim.step = (int64_t)jnum(state, "step", 0);
		t.optim.lr = jnum(json_object_get(state, "optimizer"), "lr",
				  t.optim.lr);
		t.epoch0 = (int)jnum(state, "epoch", 0);
		t.best = jnum(state, "best_val_loss", INFINITY);
		t.bad = (int)jnum(state, "bad_epochs", 0);
		t.meta.hist = resume.hist;
		memset(&resume.hist, 0, sizeof resume.hist);
		if (t.epoch0 >= t.epochs) {
			rc = qt_error(QT_EUSAGE, "%s has already trained %d epochs; "
				      "ask for more with --epochs", o->resume,
				      t.epoch0);
			goto out;
		}
	}
	if ((rc = qt_schedule_parse(&t.sched, o->schedule ? o->schedule : "none",
				    t.optim.cfg.lr, t.epochs)) < 0)
		goto out;
	if (state) {
		double pb = jnum(state, "plateau_best", INFINITY);
		t.sched.best = pb >= 1e308 ? INFINITY : pb;
		t.sched.bad_epochs = (int)jnum(state, "plateau_bad", 0);
		if (t.best >= 1e308)
			t.best = INFINITY;
	}
	t.meta.fields = qt_ckpt_fields_json(t.net, t.h);
	t.meta.provenance = qt_prov_to_json(t.h);
	t.meta.preprocessing = qt_ckpt_preprocessing_json(t.h);
	if (!t.meta.fields || !t.meta.provenance || !t.meta.preprocessing) {
		rc = QT_ENOMEM;
		goto out;
	}
	t.order = malloc((size_t)t.ntrain * sizeof *t.order);
	if (!t.order) {
		rc = QT_ENOMEM;
		goto out;
	}
	early = t.vsrc && o->early_stopping;
	if (early && o->checkpoint_every && !o->quiet)
		qt_cli_note("--checkpoint-every is ignored with --early-stopping: "
			    "the checkpoint is written whenever val_loss improves");
	/* A checkpoint written with early stopping holds its run's best
	 * epoch: it stays the best until an epoch of this run beats it. */
	if (early && resume.path && isfinite(t.best)) {
		t.saved_best = 1;
		t.best_epoch = t.epoch0;
		if (!same_file(o->resume, o->output) &&
		    (rc = save(&t, t.epoch0)) < 0)
			goto out;
	}
	if (o->log && !(t.log = fopen(o->log, resume.path ? "a" : "w"))) {
		rc = qt_error(QT_EUSAGE, "cannot write log '%s'", o->log);
		goto out;
	}

	for (epoch = t.epoch0 + 1; epoch <= t.epochs; epoch++) {
		struct pass_stats s, v = {0};
		double secs, lr = t.optim.lr, monitor;
		if ((rc = run_epoch(&t, epoch, &s, &secs)) < 0)
			break;
		if (t.vsrc && (rc = evaluate(t.net, t.vsrc, t.vidx, t.nval, &v)) < 0)
			break;
		log_epoch(&t, epoch, &s, t.vsrc ? &v : NULL, secs, lr);
		monitor = t.vsrc ? v.loss_sum / (double)v.n
				 : s.loss_sum / (double)s.n;
		/* With early stopping the checkpoint is the best epoch's
		 * whole state (weights, optimizer, schedule, history), as
		 * if training had ended there: written when an epoch
		 * improves on val_loss, and only then. */
		int improved = 0;
		if (early) {
			improved = monitor < t.best;
			t.best = improved ? monitor : t.best;
			t.bad = improved ? 0 : t.bad + 1;
		}
		t.optim.lr = qt_schedule_next(&t.sched, epoch, monitor, t.optim.lr);
		if (improved) {
			if ((rc = save(&t, epoch)) < 0)
				break;
			t.best_epoch = epoch;
			t.saved_best = 1;
		} else if (!early && o->checkpoint_every &&
			   epoch % o->checkpoint_every == 0 && epoch < t.epochs &&
			   (rc = save(&t, epoch)) < 0) {
			break;
		}
		if (early && t.bad >= o->early_stopping) {
			if (!o->quiet)
				qt_cli_note("no improvement of val_loss for %d "
					    "epochs: stopping after epoch %d; the "
					    "checkpoint holds epoch %d, the best "
					    "(val_loss %.4f)", t.bad, epoch,
					    t.best_epoch, t.best);
			epoch++;
			break;
		}
	}
	if (rc == 0 && !t.saved_best)
		rc = save(&t, epoch - 1);
out:
	if (t.log)
		fclose(t.log);
	free(t.order);
	free(t.vidx);
	json_decref(state);
	qt_ckpt_close(&resume);
	qt_history_free(&t.meta.hist);
	free(t.meta.model_set);
	free(t.meta.fields);
	free(t.meta.provenance);
	free(t.meta.preprocessing);
	free(t.meta.state);
	qt_net_free(t.net);
	qt_model_free(t.model);
	qt_pool_free(t.pool);
	qt_batch_free(t.data);
	qt_batch_free(t.vdata);
	qt_header_free(t.h);
	qt_header_free(t.vh);
	return rc;
}
