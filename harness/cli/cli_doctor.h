/* iolens doctor (see cli_doctor.c). */
#ifndef IOLENS_CLI_DOCTOR_H
#define IOLENS_CLI_DOCTOR_H

/* Print the report; returns the exit status. */
int iolens__cli_doctor(void);

#endif
