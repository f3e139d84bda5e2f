# Reads examples/python/__main__.py and prints, as JSON, every call to the generated SDK module (aurora.X(...))
# with its keyword names, nested calls resolved, and the attributes read from the component (db.x).
import ast, json, sys

tree = ast.parse(open(sys.argv[1]).read())
alias = next(a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names if a.name == "pulumi_aurora_iam_proxy")

def value(node):
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name) and node.func.value.id == alias:
        return {"call": node.func.attr, "kwargs": {k.arg: value(k.value) for k in node.keywords}}
    if isinstance(node, ast.List):
        return [value(e) for e in node.elts]
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) and isinstance(node.value.value, ast.Name) and node.value.value.id == alias:
        return {"enum": node.value.attr, "member": node.attr}
    return None

components, reads = [], []
for node in ast.walk(tree):
    if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
        v = value(node.value)
        if v and v["call"] == "AuroraIamProxy":
            components.append({"var": node.targets[0].id, **v})
names = {c["var"] for c in components}
for node in ast.walk(tree):
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in names:
        reads.append(node.attr)
print(json.dumps({"components": components, "reads": sorted(set(reads))}))
