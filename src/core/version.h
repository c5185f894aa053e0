/* The release version of Herald. */
#ifndef HERALD_CORE_VERSION_H
#define HERALD_CORE_VERSION_H

#define HERALD_VERSION "0.1.0"

#endif
