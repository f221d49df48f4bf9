#!/usr/bin/env python3
"""RDKit reference features for the SMILES and SDF readers (tests/data/test_smiles.cpp, test_sdf.cpp).

Run with Debian's python3 (RDKit 2022.09 from python3-rdkit):

    /usr/bin/python3 tools/make_smiles_fixtures.py

Reads the committed molecule files in tests/fixtures/molecules/ (gzipped copies of
rdkit-data's files, see the README there) and writes tests/fixtures/molecules/rdkit_features.txt.gz,
gzipped text, one record per molecule (deterministic: gzip without a time stamp):

    S <set> <id>|<atoms>|<bonds>       a SMILES molecule (set: nci or chembl), parsed with
                                       Chem.MolFromSmiles (default sanitisation)
    S <set> <id>|FAIL                  RDKit rejected the SMILES (sanitisation error)
    M <index>|<atoms>|<bonds>          molecule <index> (0-based) of the SDF, Chem.SDMolSupplier defaults
    P <name>\t<value>                  a property field of the preceding M record, in file order;
                                       backslash and newline in the value escaped as \\ and \n

<atoms> is a space-separated list, in RDKit's atom order (= SMILES / atom block order), of
"Z:degree:formal_charge:aromatic:total_H:in_ring"; <bonds> a list of "begin:end:type:in_ring" with
type 1 single, 2 double, 3 triple, 12 aromatic (RDKit's BondType values).
"""
import gzip
import io
import os
import sys

from rdkit import Chem, RDLogger

RDLogger.DisableLog("rdApp.*")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "tests", "fixtures", "molecules")


def mol_record(m):
    atoms = " ".join(
        "%d:%d:%d:%d:%d:%d" % (a.GetAtomicNum(), a.GetDegree(), a.GetFormalCharge(), int(a.GetIsAromatic()),
                              a.GetTotalNumHs(), int(a.IsInRing())) for a in m.GetAtoms())
    bonds = " ".join("%d:%d:%d:%d" % (b.GetBeginAtomIdx(), b.GetEndAtomIdx(), int(b.GetBondType()), int(b.IsInRing()))
                     for b in m.GetBonds())
    return atoms + "|" + bonds


def read_smi(name):
    with gzip.open(os.path.join(FIX, name), "rt") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2:
                yield parts[0], parts[1]


def main():
    out = io.StringIO()
    for set_name, fname in (("nci", "nci_first_5K.smi.gz"), ("chembl", "CHEMBL2321810.smi.gz")):
        n = fails = 0
        for smi, ident in read_smi(fname):
            m = Chem.MolFromSmiles(smi)
            n += 1
            if m is None:
                fails += 1
                out.write("S %s %s|FAIL\n" % (set_name, ident))
            else:
                out.write("S %s %s|%s\n" % (set_name, ident, mol_record(m)))
        print("%s: %d molecules, %d rejected by RDKit" % (set_name, n, fails))
    with gzip.open(os.path.join(FIX, "nci_first_200.props.sdf.gz"), "rb") as f:
        supplier = Chem.ForwardSDMolSupplier(f)
        count = 0
        for i, m in enumerate(supplier):
            if m is None:
                out.write("M %d|FAIL\n" % i)
                continue
            out.write("M %d|%s\n" % (i, mol_record(m)))
            for name in m.GetPropNames():
                value = m.GetProp(name).replace("\\", "\\\\").replace("\n", "\\n")
                out.write("P %s\t%s\n" % (name, value))
            count += 1
        print("sdf: %d molecules" % count)
    path = os.path.join(FIX, "rdkit_features.txt.gz")
    with open(path, "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0, filename="") as g:
            g.write(out.getvalue().encode())
    print("wrote", path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    sys.exit(main())
