/* checkpoint.c: saving and loading training checkpoints (checkpoint.h). */
#include "nn/checkpoint.h"
#include "common/error.h"
#include "common/h5.h"
#include "common/provjson.h"
#include "common/version.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int qt_history_add(qt_history *h, int row, const char *key, double v)
{
	int k;
	for (k = 0; k < h->nkeys && strcmp(h->keys[k], key); k++)
		;
	if (k == h->nkeys) {
		if (h->nkeys >= QT_HIST_MAX_KEYS || strlen(key) >= 32)
			return qt_error(QT_EINTERNAL, "too many history keys");
		snprintf(h->keys[k], sizeof h->keys[k], "%s", key);
		h->cols[k] = NULL;
		h->nkeys++;
		/* a new column: rows so far are NaN */
		double *c = malloc((size_t)(h->cap ? h->cap : 1) * sizeof *c);
		if (!c)
			return QT_ENOMEM;
		for (int r = 0; r < h->cap; r++)
			c[r] = NAN;
		h->cols[k] = c;
	}
	if (row >= h->cap) {
		int cap = h->cap ? h->cap * 2 : 64;
		while (cap <= row)
			cap *= 2;
		for (int j = 0; j < h->nkeys; j++) {
			double *c = realloc(h->cols[j], (size_t)cap * sizeof *c);
			if (!c)
				return QT_ENOMEM;
			for (int r = h->cap; r < cap; r++)
				c[r] = NAN;
			h->cols[j] = c;
		}
		h->cap = cap;
	}
	h->cols[k][row] = v;
	if (row + 1 > h->n)
		h->n = row + 1;
	return 0;
}

void qt_history_free(qt_history *h)
{
	for (int k = 0; k < h->nkeys; k++)
		free(h->cols[k]);
	memset(h, 0, sizeof *h);
}

/* Create (or open) the group path "a/b/c", intermediate groups too. */
static hid_t group_at(hid_t file, const char *path)
{
	hid_t lcpl, g;
	if (H5Lexists(file, path, H5P_DEFAULT) > 0)
		return H5Gopen2(file, path, H5P_DEFAULT);
	lcpl = H5Pcreate(H5P_LINK_CREATE);
	H5Pset_create_intermediate_group(lcpl, 1);
	g = H5Gcreate2(file, path, lcpl, H5P_DEFAULT, H5P_DEFAULT);
	H5Pclose(lcpl);
	return g;
}

struct save_arg {
	hid_t file;
	const qt_optim *o;
};

static int save_param(void *arg, qt_node *node, qt_param *p)
{
	struct save_arg *a = arg;
	char path[256];
	hid_t g;
	int rc;
	snprintf(path, sizeof path, "weights/%s", node->name);
	if ((g = group_at(a->file, path)) < 0)
		return qt_h5_error(QT_EIO, "cannot create group %s", path);
	rc = qt_h5_write_tensor(g, p->name, p->value, 0);
	H5Gclose(g);
	if (rc < 0 || !a->o || !p->grad)
		return rc;
	snprintf(path, sizeof path, "optimizer/%s/%s", node->name, p->name);
	if ((g = group_at(a->file, path)) < 0)
		return qt_h5_error(QT_EIO, "cannot create group %s", path);
	for (int k = 0; k < 3 && !rc && qt_optim_state_name(a->o, k); k++)
		if (p->state[k])
			rc = qt_h5_write_tensor(g, qt_optim_state_name(a->o, k),
						p->state[k], 0);
	H5Gclose(g);
	return rc;
}

static int put_str(hid_t file, const char *name, const char *value)
{
	return qt_h5_attr_write_str(file, name, value ? value : "");
}

int qt_ckpt_save(const char *path, qt_net *net, const qt_optim *o,
		 const qt_ckpt *meta)
{
	qt_h5_out out;
	struct save_arg a;
	int rc = qt_h5_create(&out, path);
	if (rc < 0)
		return rc;
	a.file = out.file;
	a.o = o;
	if ((rc = put_str(out.file, "format", "quanta-checkpoint")) < 0 ||
	    (rc = put_str(out.file, "format_version", "1")) < 0 ||
	    (rc = put_str(out.file, "quanta_version", QUANTA_VERSION_STRING)) < 0 ||
	    (rc = put_str(out.file, "model", net->text)) < 0 ||
	    (rc = put_str(out.file, "model_path", net->path)) < 0 ||
	    (rc = put_str(out.file, "model_set", meta->model_set ?
			  meta->model_set : "[]")) < 0 ||
	    (rc = put_str(out.file, "fields", meta->fields)) < 0 ||
	    (rc = put_str(out.file, "provenance", meta->provenance)) < 0 ||
	    (rc = put_str(out.file, "preprocessing", meta->preprocessing)) < 0 ||
	    (rc = put_str(out.file, "state", meta->state)) < 0)
		goto out;
	if ((rc = qt_net_each_param(net, save_param, &a)) < 0)
		goto out;
	if (meta->hist.nkeys) {
		hid_t g = group_at(out.file, "history");
		if (g < 0) {
			rc = qt_h5_error(QT_EIO, "cannot create group history");
			goto out;
		}
		for (int k = 0; k < meta->hist.nkeys && !rc; k++) {
			int64_t n = meta->hist.n;
			qt_tensor t = qt_tensor_wrap(QT_F64, 1, &n,
						     meta->hist.cols[k]);
			rc = qt_h5_write_tensor(g, meta->hist.keys[k], &t, 0);
		}
		H5Gclose(g);
		if (rc < 0)
			goto out;
	}
	{
		int64_t n = sizeof net->rng;
		qt_tensor t = qt_tensor_wrap(QT_U8, 1, &n, &net->rng);
		rc = qt_h5_write_tensor(out.file, "rng", &t, 0);
	}
out:
	{
		int rc2 = qt_h5_finish(&out, rc == 0);
		return rc ? rc : rc2;
	}
}

static int get_str(hid_t file, const char *name, char **out, int required,
		   const char *path)
{
	int rc = qt_h5_attr_read_str(file, name, out);
	if (rc == 1)
		return 0;
	*out = NULL;
	if (rc < 0)
		return rc;
	if (required)
		return qt_error(QT_EFORMAT, "%s: checkpoint lacks the '%s' "
				"attribute (damaged?)", path, name);
	return 0;
}

int qt_ckpt_open(qt_ckpt *ck, const char *path)
{
	hid_t f;
	char *fmt = NULL;
	int rc;
	memset(ck, 0, sizeof *ck);
	if ((rc = qt_h5_open(&f, path)) < 0)
		return rc;
	rc = qt_h5_attr_read_str(f, "format", &fmt);
	if (rc != 1 || strcmp(fmt, "quanta-checkpoint")) {
		free(fmt);
		H5Fclose(f);
		return qt_error(QT_EFORMAT, "%s is an HDF5 file but not a quanta "
				"checkpoint (no format=quanta-checkpoint "
				"attribute)", path);
	}
	free(fmt);
	if (!(ck->path = strdup(path)))
		rc = QT_ENOMEM;
	else if ((rc = get_str(f, "format_version", &fmt, 1, path)) == 0) {
		if (strcmp(fmt, "1"))
			rc = qt_error(QT_EFORMAT, "%s: checkpoint format %s is not "
				      "supported (this quanta reads 1)", path, fmt);
		free(fmt);
	}
	if (!rc)
		rc = get_str(f, "model", &ck->model, 1, path);
	if (!rc)
		rc = get_str(f, "model_path", &ck->model_path, 0, path);
	if (!rc)
		rc = get_str(f, "model_set", &ck->model_set, 0, path);
	if (!rc)
		rc = get_str(f, "fields", &ck->fields, 1, path);
	if (!rc)
		rc = get_str(f, "provenance", &ck->provenance, 0, path);
	if (!rc)
		rc = get_str(f, "preprocessing", &ck->preprocessing, 0, path);
	if (!rc)
		rc = get_str(f, "state", &ck->state, 1, path);
	if (!rc && H5Lexists(f, "history", H5P_DEFAULT) > 0) {
		char **names = NULL;
		int n = 0;
		hid_t g = H5Gopen2(f, "history", H5P_DEFAULT);
		rc = g < 0 ? qt_h5_error(QT_EFORMAT, "%s: bad history", path)
			   : qt_h5_list_datasets(g, &names, &n);
		for (int k = 0; k < n && !rc; k++) {
			qt_tensor *t = NULL;
			rc = qt_h5_read_tensor(g, names[k], QT_F64, &t);
			for (int64_t r = 0; !rc && r < qt_tensor_numel(t); r++)
				rc = qt_history_add(&ck->hist, (int)r, names[k],
						    ((double *)t->data)[r]);
			qt_tensor_free(t);
		}
		qt_h5_free_names(names, n);
		if (g >= 0)
			H5Gclose(g);
	}
	H5Fclose(f);
	if (rc)
		qt_ckpt_close(ck);
	return rc;
}

void qt_ckpt_close(qt_ckpt *ck)
{
	free(ck->model);
	free(ck->model_path);
	free(ck->model_set);
	free(ck->fields);
	free(ck->provenance);
	free(ck->preprocessing);
	free(ck->state);
	free(ck->path);
	qt_history_free(&ck->hist);
	memset(ck, 0, sizeof *ck);
}

struct load_arg {
	hid_t file;
	qt_optim *o;
	qt_net *net;
	const char *path;
};

/* Read dataset `name` straight into dst (no copy of the weights: the
 * eor regressor's first dense layer and its Adam state are 655 MB
 * each). */
static int load_into(hid_t loc, const char *name, qt_tensor *dst,
		     const char *what, const char *path)
{
	qt_h5_dset d;
	char s1[96], s2[96];
	int rc, same;
	if (!qt_h5_has_dataset(loc, name))
		return qt_error(QT_EFORMAT, "%s: checkpoint has no %s (was it "
				"trained with another model?)", path, what);
	if ((rc = qt_h5_dset_open(&d, loc, name)) < 0)
		return rc;
	same = d.ndim == dst->ndim && d.ndim > 0 &&
	       !memcmp(d.shape, dst->shape, (size_t)d.ndim * sizeof *d.shape);
	if (!same)
		rc = qt_error(QT_ESHAPE, "%s: %s is %s in the checkpoint but %s "
			      "in the model", path, what,
			      qt_shape_str(s1, sizeof s1, d.ndim, d.shape),
			      qt_shape_str(s2, sizeof s2, dst->ndim, dst->shape));
	else
		rc = qt_h5_dset_read(&d, 0, d.shape[0], dst);
	qt_h5_dset_close(&d);
	return rc;
}

static int load_param(void *arg, qt_node *node, qt_param *p)
{
	struct load_arg *a = arg;
	char path[256];
	int rc;
	snprintf(path, sizeof path, "weights/%s/%s", node->name, p->name);
	if ((rc = load_into(a->file, path, p->value, path, a->path)) < 0)
		return rc;
	if (!a->o || !p->grad)
		return 0;
	for (int k = 0; k < 3 && qt_optim_state_name(a->o, k); k++) {
		snprintf(path, sizeof path, "optimizer/%s/%s/%s", node->name,
			 p->name, qt_optim_state_name(a->o, k));
		if ((rc = load_into(a->file, path, p->state[k], path,
				    a->path)) < 0)
			return rc;
	}
	return 0;
}

int qt_ckpt_load(const qt_ckpt *ck, qt_net *net, qt_optim *o)
{
	struct load_arg a = {.o = o, .net = net, .path = ck->path};
	int rc = qt_h5_open(&a.file, ck->path);
	if (rc < 0)
		return rc;
	rc = qt_net_each_param(net, load_param, &a);
	if (!rc && o && qt_h5_has_dataset(a.file, "rng")) {
		qt_tensor *t = NULL;
		rc = qt_h5_read_tensor(a.file, "rng", QT_U8, &t);
		if (!rc && qt_tensor_nbytes(t) == sizeof net->rng)
			memcpy(&net->rng, t->data, sizeof net->rng);
		qt_tensor_free(t);
	}
	H5Fclose(a.file);
	return rc;
}

static json_t *field_json(const qt_field *f)
{
	json_t *o = json_object(), *shape = json_array();
	json_object_set_new(o, "name", json_string(f->name));
	json_object_set_new(o, "dtype", json_string(qt_dtype_str(f->dtype)));
	for (int d = 0; d < f->ndim; d++)
		json_array_append_new(shape, f->shape[d] < 0 ? json_null()
						: json_integer(f->shape[d]));
	json_object_set_new(o, "shape", shape);
	if (f->nclasses) {
		json_t *c = json_array();
		for (int k = 0; k < f->nclasses; k++)
			json_array_append_new(c, json_string(f->classes[k]));
		json_object_set_new(o, "classes", c);
	}
	return o;
}

char *qt_ckpt_fields_json(const qt_net *net, const qt_header *h)
{
	json_t *inputs = json_array(), *targets = json_array(),
	       *root = json_object();
	char *s;
	for (int i = 0; i < net->nnodes; i++)
		if (!net->nodes[i].layer && net->nodes[i].field >= 0)
			json_array_append_new(inputs,
					      field_json(&h->fields[net->nodes[i].field]));
	for (int t = 0; t < net->ntargets; t++)
		if (net->targets[t].field >= 0)
			json_array_append_new(targets,
					      field_json(&h->fields[net->targets[t].field]));
	json_object_set_new(root, "inputs", inputs);
	json_object_set_new(root, "targets", targets);
	s = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (!s)
		qt_error(QT_ENOMEM, "out of memory");
	return s;
}

char *qt_ckpt_preprocessing_json(const qt_header *h)
{
	json_t *root = json_object();
	char *s;
	for (int i = 0; i < h->nprov; i++)
		for (int k = 0; k < h->prov[i].nparams; k++) {
			const char *key = h->prov[i].keys[k];
			size_t n = strlen(key);
			char name[160];
			if (n <= 7 || strcmp(key + n - 7, ".sha256") || n > 120)
				continue;
			/* A second step with the same key (normalising
			 * another field) is "key#2", and so on. */
			snprintf(name, sizeof name, "%s", key);
			for (int dup = 2; json_object_get(root, name); dup++)
				snprintf(name, sizeof name, "%s#%d", key, dup);
			json_object_set_new(root, name,
					    json_string(h->prov[i].values[k]));
		}
	s = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(root);
	if (!s)
		qt_error(QT_ENOMEM, "out of memory");
	return s;
}

char *qt_ckpt_set_json(const char *const *set, int n)
{
	json_t *a = json_array();
	char *s;
	for (int i = 0; i < n; i++)
		json_array_append_new(a, json_string(set[i]));
	s = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	if (!s)
		qt_error(QT_ENOMEM, "out of memory");
	return s;
}

int qt_ckpt_set_parse(const char *text, char ***set, int *n)
{
	json_t *a = json_loads(text && *text ? text : "[]", 0, NULL), *v;
	size_t i;
	*set = NULL;
	*n = 0;
	if (!json_is_array(a)) {
		json_decref(a);
		return qt_error(QT_EFORMAT, "checkpoint: damaged 'model_set'");
	}
	*set = calloc(json_array_size(a) + 1, sizeof **set);
	if (!*set) {
		json_decref(a);
		return qt_error(QT_ENOMEM, "out of memory");
	}
	json_array_foreach(a, i, v)
		if (json_is_string(v) && ((*set)[*n] = strdup(json_string_value(v))))
			(*n)++;
	json_decref(a);
	return 0;
}
