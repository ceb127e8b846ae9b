// SPDX-License-Identifier: GPL-2.0
/* klpkit_conv1: homonyms at sympos 1 (see klpkit_conv_patch.c). */
#define CONV_POS 1
#include "klpkit_conv_patch.c"
