/* provjson.c: provenance to and from JSON with jansson (see provjson.h). */
#include "common/provjson.h"
#include "common/error.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static json_t *step_json(const qt_prov *p)
{
	json_t *o = json_object(), *args = json_array(), *params = json_object();
	int bad = !o || !args || !params;
	for (int a = 0; a < p->argc && !bad; a++)
		bad = json_array_append_new(args, json_string(p->argv[a])) < 0;
	for (int k = 0; k < p->nparams && !bad; k++)
		bad = json_object_set_new(params, p->keys[k],
					  json_string(p->values[k])) < 0;
	if (!bad)
		bad = json_object_set_new(o, "stage", json_string(p->stage)) < 0 ||
		      json_object_set_new(o, "version",
					  json_string(p->version ? p->version
								 : "")) < 0 ||
		      json_object_set(o, "args", args) < 0 ||
		      json_object_set(o, "params", params) < 0;
	json_decref(args);
	json_decref(params);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

char *qt_prov_to_json(const qt_header *h)
{
	json_t *a = json_array();
	char *s = NULL;
	int bad = !a;
	for (int i = 0; i < h->nprov && !bad; i++) {
		json_t *st = step_json(&h->prov[i]);
		bad = !st || json_array_append_new(a, st) < 0;
	}
	if (!bad)
		s = json_dumps(a, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(a);
	if (!s)
		qt_error(QT_ENOMEM, "cannot encode the provenance as JSON "
			 "(out of memory or invalid UTF-8)");
	return s;
}

static int add_step(qt_header *h, json_t *st)
{
	json_t *stage = json_object_get(st, "stage");
	json_t *version = json_object_get(st, "version");
	json_t *args = json_object_get(st, "args");
	json_t *params = json_object_get(st, "params");
	const char *key;
	json_t *v;
	size_t n, i;
	char **argv;
	int step;
	if (!json_is_object(st) || !json_is_string(stage) ||
	    (args && !json_is_array(args)) ||
	    (params && !json_is_object(params)) ||
	    (version && !json_is_string(version)))
		return QT_EFORMAT;
	n = args ? json_array_size(args) : 0;
	if (!(argv = calloc(n + 1, sizeof *argv)))
		return qt_error(QT_ENOMEM, "out of memory");
	json_array_foreach(args, i, v) {
		if (!json_is_string(v)) {
			free(argv);
			return QT_EFORMAT;
		}
		argv[i] = (char *)json_string_value(v);
	}
	step = qt_header_add_prov(h, json_string_value(stage), (int)n, argv);
	free(argv);
	if (step < 0)
		return step;
	if (version) {
		char *ver = strdup(json_string_value(version));
		if (!ver)
			return qt_error(QT_ENOMEM, "out of memory");
		free(h->prov[step].version);
		h->prov[step].version = ver;
	}
	json_object_foreach(params, key, v) {
		int rc;
		if (!json_is_string(v))
			return QT_EFORMAT;
		if ((rc = qt_header_add_param(h, step, key,
					      json_string_value(v))) < 0)
			return rc;
	}
	return 0;
}

int qt_prov_from_json(qt_header *h, const char *text)
{
	json_error_t err;
	json_t *a = json_loads(text, JSON_REJECT_DUPLICATES, &err), *st;
	size_t i;
	int rc = 0;
	if (!a)
		return qt_error(QT_EFORMAT, "provenance is not JSON: %s (line "
				"%d, column %d)", err.text, err.line,
				err.column);
	if (!json_is_array(a)) {
		json_decref(a);
		return qt_error(QT_EFORMAT, "provenance is not a JSON array");
	}
	json_array_foreach(a, i, st) {
		if ((rc = add_step(h, st)) < 0) {
			if (rc == QT_EFORMAT)
				qt_error(rc, "provenance step %zu is not an "
					 "object with stage, version, args "
					 "and params", i + 1);
			break;
		}
	}
	json_decref(a);
	return rc;
}
