/* model.h: model files (docs/MODELS.md): parsing text into a syntax tree.
 *
 * The parser knows the grammar, not the layers: it accepts any call name
 * and any options, and records the line and column of everything, so the
 * network builder (nn/net.h) can report "file:line:col: unknown option
 * 'kernal' for conv2d" against the text.  All nodes of a model live in
 * one arena freed by qt_model_free().
 */
#ifndef QT_MODEL_H
#define QT_MODEL_H

#include <stdint.h>

typedef struct qt_mexpr qt_mexpr;

typedef enum qt_mvalue_kind {
	QT_MV_NUM,  /* 5, 0.03, 1e-3 */
	QT_MV_STR,  /* "text" */
	QT_MV_NAME, /* an identifier: a value's name or an option word */
	QT_MV_LIST, /* [a, b, ...] */
	QT_MV_EXPR  /* a call f(...) or a pipeline a | f | g */
} qt_mvalue_kind;

typedef struct qt_mvalue {
	qt_mvalue_kind kind;
	double num;
	int is_int;         /* the number was written without '.' or 'e' */
	const char *str;    /* QT_MV_STR, QT_MV_NAME */
	int n;              /* QT_MV_LIST */
	struct qt_mvalue *items;
	qt_mexpr *expr;     /* QT_MV_EXPR */
	int line, col;
} qt_mvalue;

typedef struct qt_marg {
	const char *key; /* NULL for a positional argument */
	qt_mvalue v;
	int line, col;
} qt_marg;

/* One step of a pipeline: a bare name (a value or a layer without
 * arguments) or a call. */
typedef struct qt_mterm {
	const char *name;
	int is_call; /* written with parentheses */
	int nargs;
	qt_marg *args;
	int line, col;
} qt_mterm;

struct qt_mexpr {
	int n; /* terms joined by '|' */
	qt_mterm *terms;
};

typedef enum qt_mstmt_kind {
	QT_MS_INPUT, QT_MS_TARGET, QT_MS_ASSIGN, QT_MS_OUTPUT, QT_MS_LOSS,
	QT_MS_OPTIMIZER, QT_MS_TRAIN, QT_MS_PARAM
} qt_mstmt_kind;

typedef struct qt_mstmt {
	qt_mstmt_kind kind;
	int line, col;
	const char *name;   /* input, target, assignment, param */
	int ndim;           /* input: per-sample shape; shape[0] == -1 ragged */
	int64_t shape[8];
	int is_edges;       /* input NAME edges */
	int repeat;         /* assignment: written `repeat N:` times (>= 1) */
	qt_mexpr *expr;     /* assignment, loss, optimizer */
	int nnames;         /* output */
	const char **names;
	int nargs;          /* train KEY=VALUE ... */
	qt_marg *args;
} qt_mstmt;

typedef struct qt_model {
	const char *path;  /* for messages */
	const char *text;  /* the whole file, as read (stored in checkpoints) */
	int n;
	qt_mstmt *stmts;
	void *arena;
} qt_model;

/* Parse model text; `path` names it in messages.  Errors are QT_EFORMAT
 * with "path:line:col: what was expected". */
int qt_model_parse(qt_model **m, const char *path, const char *text);
/* The same with parameter overrides: set[k] = "NAME=NUMBER" replaces the
 * value of `param NAME = ...`; naming a parameter the model lacks is an
 * error (QT_EUSAGE). */
int qt_model_parse_set(qt_model **m, const char *path, const char *text,
		       const char *const *set, int nset);
/* Read and parse a file (with overrides as above). */
int qt_model_load(qt_model **m, const char *path);
int qt_model_load_set(qt_model **m, const char *path,
		      const char *const *set, int nset);
void qt_model_free(qt_model *m);

/* Record "path:line:col: message" as the error for `code`; returns code. */
int qt_model_error(const qt_model *m, int line, int col, int code,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
