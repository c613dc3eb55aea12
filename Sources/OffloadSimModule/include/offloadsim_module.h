/* offloadsim.so exports OSSL_provider_init alone; see module.c. */
#ifndef OFFLOADSIM_MODULE_H
#define OFFLOADSIM_MODULE_H
#endif
