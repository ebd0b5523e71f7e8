// images_list_test.go covers images_list.go: what `engine images` lists, with each filter and -a.
package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// ilImage adds an image with labels (nil for none) on top of parent, tagged refs.
func ilImage(t *testing.T, r *Runtime, content string, parent *Image, labels map[string]string, refs ...string) *Image {
	t.Helper()
	parentID := ""
	if parent != nil {
		parentID = parent.ID
	}
	image, err := r.AddImage(func() (*NewImage, error) {
		return r.graph.Create(LayerStream(bytes.NewReader(rtTarball(t, content))), parentID, ImageMeta{Config: &ImageConfig{Labels: labels}})
	}, refs...)
	if err != nil {
		t.Fatal(err)
	}
	return image
}

// ilList lists with the filters and describes each row as "ID-prefix:refs".
func ilList(t *testing.T, r *Runtime, all bool, args ...string) []string {
	t.Helper()
	filters, err := parseImageFilters(args)
	if err != nil {
		t.Fatal(err)
	}
	listings, err := r.ListImages(all, filters)
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, l := range listings {
		rows = append(rows, l.ID[:6]+":"+strings.Join(l.Refs, ","))
	}
	slices.Sort(rows)
	return rows
}

func ilRows(images ...any) []string {
	var rows []string
	for i := 0; i < len(images); i += 2 {
		rows = append(rows, images[i].(*Image).ID[:6]+":"+images[i+1].(string))
	}
	slices.Sort(rows)
	return rows
}

func TestImagesList(t *testing.T) {
	r := rtNew(t, t.TempDir())
	base := ilImage(t, r, "base", nil, nil, "base:1", "base:2")
	middle := ilImage(t, r, "middle", base, map[string]string{"tier": "mid"}) // intermediate
	top := ilImage(t, r, "top", middle, map[string]string{"tier": "top", "team": "a"}, "app/top:v1")
	dangling := ilImage(t, r, "dangling", nil, map[string]string{"team": "b"})

	tests := []struct {
		all     bool
		filters []string
		want    []string
	}{
		{false, nil, ilRows(base, "base:1,base:2", top, "app/top:v1", dangling, "")},
		{true, nil, ilRows(base, "base:1,base:2", middle, "", top, "app/top:v1", dangling, "")},
		{false, []string{"dangling=true"}, ilRows(dangling, "")},
		{true, []string{"dangling=true"}, ilRows(middle, "", dangling, "")},
		{false, []string{"dangling=false"}, ilRows(base, "base:1,base:2", top, "app/top:v1")},
		{false, []string{"dangling=true", "dangling=false"}, ilRows(base, "base:1,base:2", top, "app/top:v1", dangling, "")},
		{false, []string{"reference=base"}, ilRows(base, "base:1,base:2")},
		{false, []string{"reference=base:2"}, ilRows(base, "base:2")},
		{false, []string{"reference=app/*"}, ilRows(top, "app/top:v1")},
		{false, []string{"reference=*"}, ilRows(base, "base:1,base:2")}, // "*" matches no "/"
		{false, []string{"reference=*:v?", "reference=base:1"}, ilRows(base, "base:1")},
		{false, []string{"reference=nothing"}, nil},
		{false, []string{"label=team"}, ilRows(top, "app/top:v1", dangling, "")},
		{false, []string{"label=team=a"}, ilRows(top, "app/top:v1")},
		{false, []string{"label=team=b", "label=tier=top"}, ilRows(top, "app/top:v1", dangling, "")},
		{false, []string{"label=team", "dangling=true"}, ilRows(dangling, "")},
		{true, []string{"label=tier=mid"}, ilRows(middle, "")},
		{true, []string{"before=" + top.ID}, ilRows(base, "base:1,base:2", middle, "")},
		{true, []string{"since=" + middle.ID[:12]}, ilRows(top, "app/top:v1", dangling, "")},
	}
	for _, tc := range tests {
		if got := ilList(t, r, tc.all, tc.filters...); !slices.Equal(got, tc.want) {
			t.Errorf("images all=%v %v:\n got %v\nwant %v", tc.all, tc.filters, got, tc.want)
		}
	}
}

func TestImagesFilterErrors(t *testing.T) {
	for filter, want := range map[string]string{
		"bogus=1":        `invalid filter "bogus"`,
		"dangling":       "expected key=value",
		"dangling=maybe": "invalid filter 'dangling=maybe'",
		"reference=[":    "invalid filter 'reference=['",
		"label=":         "a value is needed",
	} {
		if _, err := parseImageFilters([]string{filter}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", filter, err, want)
		}
	}
	r := rtNew(t, t.TempDir())
	if _, err := r.ListImages(false, imageFilters{"before": {"nothing"}}); err == nil || !strings.Contains(err.Error(), "no such image") {
		t.Errorf("before=nothing: %v", err)
	}
}
