/* main.c - kvns entry point: read the KVNS_* configuration, then become the supervisor. */
#include "kvns/config.h"
#include "kvns/log.h"
#include "kvns/worker.h"

#include <stdio.h>

int main(void)
{
    static kvns_config cfg;
    char err[512];
    log_init(LOG_LVL_INFO);
    if (config_load(&cfg, err, sizeof err) != 0) {
        fprintf(stderr, "kvns: configuration error: %s\n", err);
        return EXIT_CONFIG;
    }
    log_init((enum log_level)cfg.log_level);
    config_fit_open_files(&cfg);
    return supervisor_main(&cfg);
}
