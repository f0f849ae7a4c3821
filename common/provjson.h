/* provjson.h: a stream's provenance as JSON, for files that leave the
 * stream world (HDF5 attributes written by save and by checkpoints) and
 * come back into it (load).
 *
 * The JSON is an array of steps, oldest first, each an object with the
 * keys of docs/FORMAT.md's provenance step map:
 *   [{"stage": "simulate", "version": "0.1.0", "args": ["jets", "-n", "10"],
 *     "params": {}}, ...]
 */
#ifndef QT_PROVJSON_H
#define QT_PROVJSON_H

#include "common/stream.h"

/* h's provenance as a compact JSON text (malloc'd; NULL with qt_error
 * set on failure). */
char *qt_prov_to_json(const qt_header *h);

/* Append the steps of a JSON provenance array to h.  QT_EFORMAT when the
 * text is not such an array. */
int qt_prov_from_json(qt_header *h, const char *json);

#endif
