/* SPDX-License-Identifier: MIT */
/*
 * The TUN device: layer-3 packets without the packet-information header.
 * The device is not persistent, so it (with its addresses and routes)
 * disappears when the daemon's descriptor closes, crash or not.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>

#include "daemon.h"

int tun_open(char *name, bool vnet_hdr)
{
	struct ifreq ifr;
	int fd, ret;

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (vnet_hdr ? IFF_VNET_HDR : 0);
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	memcpy(name, ifr.ifr_name, IFNAMSIZ);
	return fd;
}
