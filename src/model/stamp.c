/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/util.h"
#include "model/stamp.h"

bool lvm_name_valid(const char *s, size_t len)
{
	if (len == 0 || len > LVM_NAME_MAX || s[0] == '-' || (len == 1 && s[0] == '.') ||
	    (len == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isascii((unsigned char)s[i]) ||
		    !(isalnum((unsigned char)s[i]) || strchr("+_.-", s[i])))
			return false;
	return true;
}

bool volume_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > VOLUME_NAME_MAX || streq(name, ".") || streq(name, "..") ||
	    name[0] == '-')
		return false;
	for (const char *p = name; *p; p++)
		if (!isascii((unsigned char)*p) ||
		    !(isalnum((unsigned char)*p) || *p == '_' || *p == '.' || *p == '-'))
			return false;
	return true;
}

/* Reads exactly @n digits. Return: the value, or -1. */
static int stamp_digits(const char **s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*s)[i]))
			return -1;
		v = v * 10 + ((*s)[i] - '0');
	}
	*s += n;
	return v;
}

static bool stamp_tm_valid(const struct tm *tm)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y = tm->tm_year + 1900;
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	if (y < 1970 || y > 9999 || tm->tm_mon < 0 || tm->tm_mon > 11 || tm->tm_mday < 1)
		return false;
	if (tm->tm_mday > mdays[tm->tm_mon] || (tm->tm_mon == 1 && !leap && tm->tm_mday > 28))
		return false;
	return tm->tm_hour <= 23 && tm->tm_min <= 59 && tm->tm_sec <= 59;
}

int time_parse_iso(const char *s, time_t *ret)
{
	struct tm tm = { 0 };
	int off = 0;
	bool utc = false, local = false;
	time_t t;

	if ((tm.tm_year = stamp_digits(&s, 4)) < 0 || *s++ != '-' ||
	    (tm.tm_mon = stamp_digits(&s, 2)) < 0 || *s++ != '-' ||
	    (tm.tm_mday = stamp_digits(&s, 2)) < 0)
		return -EINVAL;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	if (*s == 'T' || *s == ' ') {
		s++;
		if ((tm.tm_hour = stamp_digits(&s, 2)) < 0 || *s++ != ':' ||
		    (tm.tm_min = stamp_digits(&s, 2)) < 0)
			return -EINVAL;
		if (*s == ':') {
			s++;
			if ((tm.tm_sec = stamp_digits(&s, 2)) < 0)
				return -EINVAL;
		}
	}
	if (*s == 'Z') {
		utc = true;
		s++;
	} else if (*s == '+' || *s == '-') {
		int sign = *s++ == '-' ? -1 : 1, h, m;

		if ((h = stamp_digits(&s, 2)) < 0)
			return -EINVAL;
		if (*s == ':')
			s++;
		if ((m = stamp_digits(&s, 2)) < 0 || h > 23 || m > 59)
			return -EINVAL;
		off = sign * (h * 3600 + m * 60);
		utc = true;
	} else {
		local = true;
	}
	if (*s != '\0' || !stamp_tm_valid(&tm))
		return -EINVAL;
	if (local) {
		tm.tm_isdst = -1;
		t = mktime(&tm);
		if (t == (time_t)-1)
			return -EINVAL;
	} else {
		t = timegm(&tm);
		if (t == (time_t)-1)
			return -EINVAL;
		t -= off;
	}
	(void) utc;
	*ret = t;
	return 0;
}

char *time_format_iso(time_t t, char buf[static ISO_TIME_LEN])
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || strftime(buf, ISO_TIME_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		strcpy(buf, "1970-01-01T00:00:00Z");
	return buf;
}

static const struct {
	char unit;
	int64_t secs;
} duration_units[] = {
	{ 'w', 7 * 86400 },
	{ 'd', 86400 },
	{ 'h', 3600 },
	{ 'm', 60 },
	{ 's', 1 },
};

int duration_parse(const char *s, int64_t *ret)
{
	int64_t v = 0;
	const char *p = s;

	if (streq(s, "0")) {
		*ret = 0;
		return 0;
	}
	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (INT64_MAX - 9) / 10)
			return -EINVAL;
		v = v * 10 + (*p - '0');
	}
	if (p[0] == '\0' || p[1] != '\0')
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(duration_units); i++) {
		if (duration_units[i].unit != *p)
			continue;
		/* Beyond a century is a typo, not a policy. */
		if (v > 100LL * 366 * 86400 / duration_units[i].secs)
			return -EINVAL;
		*ret = v * duration_units[i].secs;
		return 0;
	}
	return -EINVAL;
}

char *duration_format(int64_t secs, char *buf, size_t len)
{
	if (secs == 0) {
		snprintf(buf, len, "0");
		return buf;
	}
	for (size_t i = 0; i < ARRAY_SIZE(duration_units); i++)
		if (secs % duration_units[i].secs == 0) {
			snprintf(buf, len, "%" PRId64 "%c", secs / duration_units[i].secs,
				 duration_units[i].unit);
			break;
		}
	return buf;
}

int snap_name_format(const char *volume, time_t t, unsigned seq, char *buf, size_t len)
{
	struct tm tm;
	char stamp[32];
	int r;

	if (!volume_name_valid(volume) || seq < 1 || seq > SEQ_MAX)
		return -EINVAL;
	if (!gmtime_r(&t, &tm) || strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm) != 16)
		return -EINVAL;
	if (seq == 1)
		r = snprintf(buf, len, "%s.%s", volume, stamp);
	else
		r = snprintf(buf, len, "%s.%s_%u", volume, stamp, seq);
	if (r < 0 || (size_t)r >= len)
		return -ENAMETOOLONG;
	return 0;
}

int snap_name_parse(const char *volume, const char *name, time_t *ret_time, unsigned *ret_seq)
{
	size_t vl = strlen(volume);
	struct tm tm = { 0 };
	const char *s;
	unsigned seq = 1;
	time_t t;

	if (strncmp(name, volume, vl) != 0 || name[vl] != '.')
		return -EINVAL;
	s = name + vl + 1;
	if ((tm.tm_year = stamp_digits(&s, 4)) < 0 || (tm.tm_mon = stamp_digits(&s, 2)) < 0 ||
	    (tm.tm_mday = stamp_digits(&s, 2)) < 0 || *s++ != 'T' ||
	    (tm.tm_hour = stamp_digits(&s, 2)) < 0 || (tm.tm_min = stamp_digits(&s, 2)) < 0 ||
	    (tm.tm_sec = stamp_digits(&s, 2)) < 0 || *s++ != 'Z')
		return -EINVAL;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	if (!stamp_tm_valid(&tm))
		return -EINVAL;
	if (*s == '_') {
		s++;
		/* "_1" and "_02" would alias real names: only the canonical form is ours. */
		if (*s < '2' || *s > '9') {
			if (!(*s == '1' && isdigit((unsigned char)s[1])))
				return -EINVAL;
		}
		seq = 0;
		for (; isdigit((unsigned char)*s); s++) {
			seq = seq * 10 + (unsigned)(*s - '0');
			if (seq > SEQ_MAX)
				return -EINVAL;
		}
		if (seq < 2)
			return -EINVAL;
	}
	if (*s != '\0')
		return -EINVAL;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	if (ret_time)
		*ret_time = t;
	if (ret_seq)
		*ret_seq = seq;
	return 0;
}

char *age_format(int64_t s, char *buf, size_t len)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(buf, len, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm", (long long)(s / 60));
	else if (s < 86400)
		snprintf(buf, len, "%lldh %lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
	else
		snprintf(buf, len, "%lldd %lldh", (long long)(s / 86400), (long long)(s % 86400 / 3600));
	return buf;
}
