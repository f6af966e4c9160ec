"""Test certificates made with the openssl CLI into a temporary directory (never checked in).

Certs(dir) makes a CA and, on demand, leaf certificates signed by it for 127.0.0.1 and
localhost (server and client use), a second unrelated CA ("wrong CA"), an expired leaf, and
CRLs revoking given certificates.
Paths are returned as (cert, key) pairs.
"""

import os
import subprocess

_EXT = ("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "extendedKeyUsage=serverAuth,clientAuth\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n")


def _run(args, cwd):
    proc = subprocess.run(["openssl"] + args, cwd=cwd, capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (" ".join(args), proc.stderr))


class Certs:
    def __init__(self, directory):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, "leaf.ext"), "w") as f:
            f.write(_EXT)
        self.ca = self._ca("ca", "keel-test-ca")
        self.other_ca = self._ca("other-ca", "keel-test-other-ca")

    def path(self, name):
        return os.path.join(self.dir, name)

    def _ca(self, name, cn):
        _run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
              "-keyout", name + ".key", "-out", name + ".pem", "-days", "2",
              "-subj", "/CN=" + cn], self.dir)
        return self.path(name + ".pem")

    def _csr(self, name, cn):
        _run(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
              "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + cn], self.dir)

    def leaf(self, name, cn, ca="ca"):
        """A certificate for 127.0.0.1/localhost with Common Name `cn`, signed by `ca`."""
        self._csr(name, cn)
        _run(["x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
              "-CAcreateserial", "-out", name + ".pem", "-days", "2", "-extfile", "leaf.ext"],
             self.dir)
        return self.path(name + ".pem"), self.path(name + ".key")

    def crl(self, name, revoked):
        """A CRL signed by the good CA listing the certificates at the paths `revoked`
        (openssl ca -revoke, then -gencrl); returns its path (PEM)."""
        conf = self.path(name + "-crl.cnf")
        db = self.path(name + "-index.txt")
        with open(conf, "w") as f:
            f.write("[ca]\ndefault_ca=d\n[d]\ndatabase=%s\ndefault_md=sha256\n"
                    "default_crl_days=2\ncrlnumber=%s\n" % (db, self.path(name + "-crlnumber")))
        open(db, "w").close()
        with open(self.path(name + "-crlnumber"), "w") as f:
            f.write("01\n")
        for cert in revoked:
            _run(["ca", "-config", conf, "-cert", "ca.pem", "-keyfile", "ca.key",
                  "-revoke", cert], self.dir)
        _run(["ca", "-config", conf, "-cert", "ca.pem", "-keyfile", "ca.key", "-gencrl",
              "-out", name + ".crl"], self.dir)
        return self.path(name + ".crl")

    def expired_leaf(self, name, cn):
        """Signed by the good CA, valid only in January 2020 (openssl ca sets the dates)."""
        self._csr(name, cn)
        conf = self.path("expired-ca.cnf")
        with open(conf, "w") as f:
            f.write("[ca]\ndefault_ca=d\n[d]\ndatabase=%s\nnew_certs_dir=%s\nserial=%s\n"
                    "default_md=sha256\npolicy=p\nx509_extensions=e\n[p]\ncommonName=supplied\n"
                    "[e]\n%s" % (self.path("index.txt"), self.dir, self.path("serial"), _EXT))
        open(self.path("index.txt"), "w").close()
        with open(self.path("serial"), "w") as f:
            f.write("1000\n")
        _run(["ca", "-batch", "-config", conf, "-cert", "ca.pem", "-keyfile", "ca.key",
              "-in", name + ".csr", "-out", name + ".pem", "-notext",
              "-startdate", "20200101000000Z", "-enddate", "20200102000000Z"], self.dir)
        return self.path(name + ".pem"), self.path(name + ".key")
