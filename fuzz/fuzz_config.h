/* The input layout of fuzz_config, shared with make-corpus. */
#ifndef TLSPLUG_FUZZ_CONFIG_H
#define TLSPLUG_FUZZ_CONFIG_H

/* Separates the parts of a fuzz_config input. */
#define FZ_CONFIG_SEP "\n#=#\n"

#endif
