/* The curated candidates fmcl_tune_gemm (tune_search.c) tries for each
 * CLBlast 1.5.3 kernel of the GEMM routine. fmcl_tune_invalid (tune.c)
 * skips an invalid set before CLBlast ever compiles it. */
#include <stdio.h>
#include <string.h>

#include "runtime/tune.h"

/* Xgemm: GEMMK=0 (the tiled kernel), KREG=1, STRM=STRN=0 throughout. */
static const char *const xgemm[] = {
    "MWG=32 NWG=64 KWG=32 MDIMC=8 NDIMC=8 MDIMA=8 NDIMB=8 KWI=2 VWM=4 VWN=4 SA=0 SB=0",
    "MWG=64 NWG=64 KWG=32 MDIMC=8 NDIMC=8 MDIMA=8 NDIMB=8 KWI=2 VWM=8 VWN=8 SA=0 SB=0",
    "MWG=64 NWG=64 KWG=64 MDIMC=8 NDIMC=8 MDIMA=8 NDIMB=8 KWI=2 VWM=8 VWN=8 SA=0 SB=0",
    "MWG=64 NWG=64 KWG=32 MDIMC=8 NDIMC=8 MDIMA=8 NDIMB=8 KWI=8 VWM=8 VWN=8 SA=0 SB=0",
    "MWG=128 NWG=128 KWG=32 MDIMC=16 NDIMC=16 MDIMA=16 NDIMB=16 KWI=2 VWM=8 VWN=8 SA=0 SB=0",
    "MWG=64 NWG=64 KWG=16 MDIMC=8 NDIMC=8 MDIMA=8 NDIMB=8 KWI=2 VWM=4 VWN=4 SA=0 SB=0",
    "MWG=64 NWG=32 KWG=32 MDIMC=8 NDIMC=8 MDIMA=8 NDIMB=8 KWI=2 VWM=8 VWN=4 SA=0 SB=0",
    "MWG=32 NWG=64 KWG=32 MDIMC=8 NDIMC=8 MDIMA=8 NDIMB=8 KWI=8 VWM=4 VWN=8 SA=0 SB=0",
    "MWG=64 NWG=128 KWG=32 MDIMC=8 NDIMC=16 MDIMA=8 NDIMB=16 KWI=2 VWM=8 VWN=8 SA=0 SB=0",
    "MWG=128 NWG=64 KWG=32 MDIMC=16 NDIMC=8 MDIMA=16 NDIMB=8 KWI=2 VWM=8 VWN=8 SA=0 SB=0",
    /* GPU-style: tiles staged through local memory. */
    "MWG=64 NWG=64 KWG=16 MDIMC=16 NDIMC=16 MDIMA=16 NDIMB=16 KWI=2 VWM=2 VWN=2 SA=1 SB=1",
    "MWG=64 NWG=64 KWG=32 MDIMC=16 NDIMC=16 MDIMA=16 NDIMB=16 KWI=2 VWM=4 VWN=4 SA=1 SB=1",
    "MWG=128 NWG=128 KWG=16 MDIMC=16 NDIMC=16 MDIMA=16 NDIMB=16 KWI=2 VWM=4 VWN=4 SA=1 SB=1",
};

static const char *const xgemm_direct[] = {
    "WGD=32 MDIMCD=8 NDIMCD=8 MDIMAD=8 NDIMBD=8 KWID=2 VWMD=4 VWND=4 PADA=1 PADB=1",
    "WGD=64 MDIMCD=8 NDIMCD=8 MDIMAD=8 NDIMBD=8 KWID=2 VWMD=8 VWND=8 PADA=1 PADB=1",
    "WGD=32 MDIMCD=8 NDIMCD=8 MDIMAD=8 NDIMBD=8 KWID=8 VWMD=2 VWND=2 PADA=0 PADB=0",
    "WGD=64 MDIMCD=16 NDIMCD=16 MDIMAD=16 NDIMBD=16 KWID=2 VWMD=4 VWND=4 PADA=1 PADB=1",
    "WGD=16 MDIMCD=8 NDIMCD=8 MDIMAD=8 NDIMBD=8 KWID=2 VWMD=2 VWND=2 PADA=1 PADB=1",
    "WGD=32 MDIMCD=16 NDIMCD=16 MDIMAD=16 NDIMBD=16 KWID=2 VWMD=2 VWND=2 PADA=1 PADB=1",
};

static const char *const copy[] = {
    "COPY_DIMX=8 COPY_DIMY=8 COPY_VW=4 COPY_WPT=1",
    "COPY_DIMX=16 COPY_DIMY=8 COPY_VW=4 COPY_WPT=2",
    "COPY_DIMX=32 COPY_DIMY=8 COPY_VW=8 COPY_WPT=1",
};

static const char *const pad[] = {
    "PAD_DIMX=8 PAD_DIMY=8 PAD_WPTX=1 PAD_WPTY=1",
    "PAD_DIMX=16 PAD_DIMY=8 PAD_WPTX=2 PAD_WPTY=1",
    "PAD_DIMX=32 PAD_DIMY=8 PAD_WPTX=4 PAD_WPTY=2",
};

static const char *const transpose[] = {
    "TRA_DIM=8 TRA_PAD=0 TRA_SHUFFLE=0 TRA_WPT=1",
    "TRA_DIM=16 TRA_PAD=1 TRA_SHUFFLE=0 TRA_WPT=2",
    "TRA_DIM=8 TRA_PAD=1 TRA_SHUFFLE=0 TRA_WPT=4",
    "TRA_DIM=4 TRA_PAD=0 TRA_SHUFFLE=1 TRA_WPT=8",
};

static const char *const padtranspose[] = {
    "PADTRA_PAD=0 PADTRA_TILE=8 PADTRA_WPT=1",
    "PADTRA_PAD=1 PADTRA_TILE=16 PADTRA_WPT=2",
    "PADTRA_PAD=1 PADTRA_TILE=8 PADTRA_WPT=4",
    "PADTRA_PAD=0 PADTRA_TILE=32 PADTRA_WPT=1",
};

#define LIST(kernel, fixed, list)                                                                  \
    {                                                                                              \
        kernel, fixed, list, (int)(sizeof list / sizeof list[0])                                   \
    }
const fmcl_tune_space fmcl_tune_spaces[FMCL_TUNE_SPACES] = {
    LIST("Xgemm", "GEMMK=0 KREG=1 STRM=0 STRN=0", xgemm),
    LIST("Copy", "", copy),
    LIST("Pad", "", pad),
    LIST("Transpose", "", transpose),
    LIST("Padtranspose", "", padtranspose),
    LIST("XgemmDirect", "", xgemm_direct),
};

int fmcl_tune_kernel_of(const fmcl_tune_space *sp, int i, fmcl_tune_kernel *k)
{
    char buf[512], *save = NULL;
    memset(k, 0, sizeof *k);
    snprintf(k->name, sizeof k->name, "%s", sp->kernel);
    snprintf(buf, sizeof buf, "%s %s", sp->fixed, sp->list[i]);
    for (char *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(t, '=');
        if (!eq || k->n == FMCL_TUNE_MAX_PARAMS) return 0;
        *eq = 0;
        snprintf(k->param[k->n], sizeof k->param[0], "%s", t);
        k->value[k->n++] = (size_t)strtoul(eq + 1, NULL, 10);
    }
    return 1;
}
