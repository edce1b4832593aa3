#!/usr/bin/env bash
# Fails if the Raft core could do I/O, read a clock or the environment, draw
# unseeded randomness or start threads: the core must stay a pure,
# deterministic object. Two checks:
#  - by include: no file of LIB_RAFT_DIR includes such a header;
#  - by symbol (when LIBRARY is given): the built static library references
#    no such function, whichever header declared it.
set -euo pipefail
dir="${1:?usage: check_raft_purity.sh LIB_RAFT_DIR [LIBRARY [NM]]}"
library="${2:-}"
nm="${3:-nm}"

forbidden='<(iostream|fstream|cstdio|stdio\.h|thread|mutex|shared_mutex|condition_variable|future|atomic|chrono|ctime|time\.h|unistd\.h|fcntl\.h|sys/[a-z_]+\.h|filesystem|semaphore|latch|barrier|stop_token|uv\.h|pthread\.h)>'
if grep -nE "^[[:space:]]*#[[:space:]]*include[[:space:]]*${forbidden}" "$dir"/*.h "$dir"/*.cc; then
  echo "lib/raft must not include I/O, clock or thread headers (see above)" >&2
  exit 1
fi
echo "lib/raft is pure by include: $(ls "$dir"/*.h "$dir"/*.cc | wc -l) files checked"

[[ -n "$library" ]] || exit 0
[[ -f "$library" ]] || { echo "no library at $library: build it first" >&2; exit 1; }

# C functions, by exact name (a fortified __name_chk or an __isoc99_name
# counts as name): the environment, clocks, unseeded randomness, files,
# sockets, processes, threads and printing.
c_functions='getenv|secure_getenv|setenv|unsetenv|putenv|clearenv'
c_functions+='|time|clock|clock_gettime|clock_getres|gettimeofday|timespec_get|ftime|localtime|localtime_r|gmtime|gmtime_r|mktime'
c_functions+='|rand|srand|rand_r|random|srandom|initstate|setstate|drand48|erand48|lrand48|nrand48|mrand48|jrand48|srand48|seed48|getrandom|getentropy|arc4random|arc4random_buf|arc4random_uniform'
c_functions+='|fopen|fopen64|freopen|fdopen|fclose|fread|fwrite|fflush|fgets|fputs|fputc|fgetc|getc|putc|puts|putchar|getchar|printf|fprintf|vprintf|vfprintf|dprintf|perror|scanf|fscanf'
c_functions+='|open|open64|openat|openat64|creat|creat64|read|write|pread|pread64|pwrite|pwrite64|readv|writev|close|lseek|lseek64|fsync|fdatasync|ftruncate|ftruncate64|truncate|fallocate|posix_fallocate|mmap|mmap64|munmap|msync|ioctl|fcntl|dup|dup2|pipe|pipe2'
c_functions+='|stat|stat64|fstat|fstat64|lstat|lstat64|statx|access|unlink|unlinkat|rename|renameat|mkdir|rmdir|opendir|readdir|readdir64|closedir|chdir|getcwd|realpath'
c_functions+='|socket|socketpair|connect|bind|listen|accept|accept4|send|recv|sendto|recvfrom|sendmsg|recvmsg|shutdown|getaddrinfo|gethostbyname|select|poll|ppoll|epoll_create|epoll_create1|epoll_ctl|epoll_wait'
c_functions+='|fork|vfork|execve|execv|execvp|system|popen|pclose|kill|raise|signal|sigaction|syscall|getpid|sleep|usleep|nanosleep|clock_nanosleep|sched_yield'
c_functions+='|pthread_[a-z_]+|thrd_[a-z_]+|mtx_[a-z_]+|uv_[a-z_]+'
# C++ names (demangled): the same, through the standard library.
cxx_names='std::random_device|std::chrono::.*::now\(\)|std::thread|std::this_thread|std::(__[a-z0-9_]+::)?(mutex|shared_mutex|timed_mutex|recursive_mutex|condition_variable)'
cxx_names+='|std::(__[a-z0-9_]+::)?(cout|cerr|clog|cin|wcout|wcerr)\b|std::(__[a-z0-9_]+::)?basic_(i|o)?fstream|std::(__[a-z0-9_]+::)?basic_filebuf|std::filesystem::|std::(__[a-z0-9_]+::)?getenv|std::__once_call|std::(__[a-z0-9_]+::)?future'

undefined=$("$nm" -C -u "$library" | sed -e 's/^[[:space:]]*U[[:space:]]*//' -e 's/@.*$//' |
            grep -v -e ':$' -e '^$' | sort -u)
c_bad=$(sed -E -e 's/^__isoc[0-9]+_//' -e 's/^__(.*)_chk$/\1/' <<<"$undefined" |
        grep -xE "(${c_functions})" || true)
cxx_bad=$(grep -E "^(${cxx_names})" <<<"$undefined" || true)
if [[ -n "$c_bad$cxx_bad" ]]; then
  printf '%s\n' $c_bad "$cxx_bad" | grep -v '^$' >&2
  echo "lib/raft must not call I/O, clock, environment, randomness or thread" \
       "functions: $library references the symbols above" >&2
  exit 1
fi
echo "lib/raft is pure by symbol: $(wc -l <<<"$undefined") undefined symbols of $(basename "$library") checked"
