#define _POSIX_C_SOURCE 200809L
#include "ports.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int free_port(void) {
  static unsigned seed;
  int attempt;
  if (seed == 0) seed = (unsigned)time(NULL) ^ ((unsigned)getpid() << 16);
  for (attempt = 0; attempt < 1000; ++attempt) {
    struct sockaddr_in addr;
    int port = 10000 + (int)(rand_r(&seed) % 20000);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int ok;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons((unsigned short)port);
    ok = bind(fd, (struct sockaddr*)&addr, sizeof addr) == 0;
    close(fd);
    if (ok) return port;
  }
  return 0;
}
