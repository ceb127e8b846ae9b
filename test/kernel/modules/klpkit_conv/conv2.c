// SPDX-License-Identifier: GPL-2.0
/* klpkit_conv2: homonyms at sympos 2 (see klpkit_conv_patch.c). */
#define CONV_POS 2
#include "klpkit_conv_patch.c"
