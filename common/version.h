/* version.h: the quanta release, printed by --version and recorded in
 * stream provenance and checkpoints. */
#ifndef QT_VERSION_H
#define QT_VERSION_H
#define QUANTA_VERSION_STRING "0.1.0"
#endif
