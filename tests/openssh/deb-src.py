#!/usr/bin/python3
"""Print a deb-src sources file (deb822) made from this machine's own
Debian entries: every enabled "Types: deb" stanza of
/etc/apt/sources.list.d/*.sources and every "deb" line of
/etc/apt/sources.list and /etc/apt/sources.list.d/*.list whose suite is
this release's (VERSION_CODENAME, -updates, -security), with deb-src.

OpenSSH's regression tests are fetched with it (tests/openssh/regress.sh):
no mirror is named anywhere but in the machine's own configuration."""
import glob
import re
import sys


def codename():
    try:
        for line in open("/etc/os-release", encoding="utf-8"):
            if line.startswith("VERSION_CODENAME="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return ""


def ours(suites, name):
    return any(s in (name, name + "-updates", name + "-security")
               for s in suites)


def from_deb822(path, name, out):
    text = open(path, encoding="utf-8").read()
    for stanza in re.split(r"\n\s*\n", text):
        fields, key = {}, None
        for line in stanza.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            if line[0] in " \t" and key is not None:
                fields[key] += " " + line.strip()
                continue
            if ":" in line:
                key, val = line.split(":", 1)
                key = key.strip().lower()
                fields[key] = val.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").lower() == "no":
            continue
        suites = fields.get("suites", "").split()
        if not ours(suites, name) or "uris" not in fields:
            continue
        out.append("Types: deb-src\nURIs: %s\nSuites: %s\nComponents: %s\n%s"
                   % (fields["uris"], " ".join(suites),
                      fields.get("components", "main"),
                      "Signed-By: %s\n" % fields["signed-by"]
                      if "signed-by" in fields else ""))


def from_list(path, name, out):
    for line in open(path, encoding="utf-8"):
        words = line.split("#", 1)[0].split()
        if len(words) < 3 or words[0] != "deb":
            continue
        opts = []
        rest = words[1:]
        if rest[0].startswith("["):
            while rest and not rest[0].endswith("]"):
                opts.append(rest.pop(0))
            opts.append(rest.pop(0))
        if len(rest) < 2 or not ours([rest[1]], name):
            continue
        signed = ""
        for o in " ".join(opts).strip("[]").split():
            if o.startswith("signed-by="):
                signed = "Signed-By: %s\n" % o.split("=", 1)[1]
        out.append("Types: deb-src\nURIs: %s\nSuites: %s\nComponents: %s\n%s"
                   % (rest[0], rest[1], " ".join(rest[2:]) or "main",
                      signed))


def main():
    name = codename()
    if not name:
        sys.exit("deb-src.py: /etc/os-release names no VERSION_CODENAME")
    out = []
    for p in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        from_deb822(p, name, out)
    for p in ["/etc/apt/sources.list"] + sorted(
            glob.glob("/etc/apt/sources.list.d/*.list")):
        try:
            from_list(p, name, out)
        except OSError:
            pass
    if not out:
        sys.exit("deb-src.py: no Debian entry for %s in /etc/apt" % name)
    print("\n".join(out), end="")


main()
