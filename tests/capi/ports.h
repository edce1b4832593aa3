/* Loopback ports for test nodes. */
#ifndef DENGINE_TESTS_CAPI_PORTS_H
#define DENGINE_TESTS_CAPI_PORTS_H

/* A port on 127.0.0.1 that nobody listens on now, chosen at random below
 * Linux's ephemeral range (32768 and up), so the kernel does not hand it to
 * an outgoing connection while the test's node is down. */
int free_port(void);

#endif
