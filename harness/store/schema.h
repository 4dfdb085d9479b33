/* The store's schema, as the steps from nothing to the current version. */
#ifndef IOLENS_STORE_SCHEMA_H
#define IOLENS_STORE_SCHEMA_H

/* Step i takes a file from version i to version i + 1; the current version is nsteps. */
extern const char *const iolens__schema_steps[];
extern const unsigned iolens__schema_nsteps;

/* PRAGMA application_id of an iolens store: "ioln". */
#define IOLENS__STORE_APP_ID 0x696f6c6e

#endif
