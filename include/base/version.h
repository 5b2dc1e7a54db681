/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SNAPROTATE_VERSION_H
#define SNAPROTATE_VERSION_H

#define SNAPROTATE_VERSION	"0.1.0"
#define SNAPROTATE_CREATOR	"snaprotate " SNAPROTATE_VERSION

#endif
