package ruleset

import (
	"slices"
)

// Diff is what turns one ruleset into another. Applying it touches only what
// changed: the counters of untouched items are never re-created.
type Diff struct {
	AddObjects    []Object // missing objects, created with their Init values
	UpdateObjects []Object // quotas whose limit changed: updated in place, consumed bytes kept
	DelObjects    []Object
	AddChains     []Chain // new chains, with their rules
	ReplaceChains []Chain // changed rules: flushed and refilled in the same transaction
	DelChains     []string
	AddElements   []Element
	DelElements   []Element
	ExemptChanged bool
}

// Empty reports whether the diff changes nothing; then nothing is sent.
func (d *Diff) Empty() bool {
	return len(d.AddObjects)+len(d.UpdateObjects)+len(d.DelObjects)+len(d.AddChains)+
		len(d.ReplaceChains)+len(d.DelChains)+len(d.AddElements)+len(d.DelElements) == 0 && !d.ExemptChanged
}

// Compare computes the diff from old to new. Unchanged items cost a pointer
// or key comparison.
func Compare(old, new *Ruleset) *Diff {
	d := &Diff{}
	for _, f := range new.Items {
		prev := old.byID[f.ID]
		if prev == nil {
			d.fragment(&Fragment{}, f)
			continue
		}
		if prev != f && prev.key != f.key {
			d.fragment(prev, f)
		}
	}
	for _, f := range old.Items {
		if _, ok := new.byID[f.ID]; !ok {
			d.fragment(f, &Fragment{})
		}
	}
	d.fragment(&old.Shared, &new.Shared)
	d.ExemptChanged = !slices.Equal(old.Exempt, new.Exempt)
	return d
}

// fragment adds the difference between two versions of one fragment (an
// empty one for an added or removed item).
func (d *Diff) fragment(old, new *Fragment) {
	for _, o := range new.Objects {
		i := slices.IndexFunc(old.Objects, func(p Object) bool { return p.Name == o.Name })
		switch {
		case i < 0:
			d.AddObjects = append(d.AddObjects, o)
		case o.Kind == ObjQuota && old.Objects[i].Limit != o.Limit:
			d.UpdateObjects = append(d.UpdateObjects, o)
		}
	}
	for _, o := range old.Objects {
		if !slices.ContainsFunc(new.Objects, func(p Object) bool { return p.Name == o.Name }) {
			d.DelObjects = append(d.DelObjects, o)
		}
	}
	for _, c := range new.Chains {
		i := slices.IndexFunc(old.Chains, func(p Chain) bool { return p.Name == c.Name })
		switch {
		case i < 0:
			d.AddChains = append(d.AddChains, c)
		case !slices.Equal(old.Chains[i].Rules, c.Rules):
			d.ReplaceChains = append(d.ReplaceChains, c)
		}
	}
	for _, c := range old.Chains {
		if !slices.ContainsFunc(new.Chains, func(p Chain) bool { return p.Name == c.Name }) {
			d.DelChains = append(d.DelChains, c.Name)
		}
	}
	for _, e := range new.Elements {
		if !slices.Contains(old.Elements, e) {
			d.AddElements = append(d.AddElements, e)
		}
	}
	for _, e := range old.Elements {
		if !slices.Contains(new.Elements, e) {
			d.DelElements = append(d.DelElements, e)
		}
	}
}
