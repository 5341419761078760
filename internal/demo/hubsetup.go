package demo

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	flotillav1 "github.com/flotilla-gitops/flotilla/api/v1alpha1"
	"github.com/flotilla-gitops/flotilla/config/crd"
	"github.com/flotilla-gitops/flotilla/fleet"
	flotillahub "github.com/flotilla-gitops/flotilla/internal/hub"
)

// gitSecretName is the Secret holding the Git server's credentials.
const gitSecretName = "git-credentials"

// setUpHub installs the CRDs and creates what an operator would: the
// namespace, the Git credentials Secret, one kubeconfig Secret per member
// and the FleetRepository.
func (d *Demo) setUpHub(ctx context.Context) error {
	start := time.Now()
	if err := writeCRDs(d.layout.CRDDir()); err != nil {
		return err
	}
	if err := d.hub.InstallCRDs(d.layout.CRDDir()); err != nil {
		return err
	}
	scheme, err := flotillahub.NewScheme()
	if err != nil {
		return err
	}
	if d.hubClient, err = d.hub.NewClient(scheme); err != nil {
		return err
	}
	ns := d.opts.Namespace
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: gitSecretName, Namespace: ns},
			Data:       map[string][]byte{"username": []byte(d.git.Username()), "password": []byte(d.git.Password())},
		},
	}
	for _, name := range d.names {
		if d.pull[name] {
			// The hub never connects to a pull cluster: no kubeconfig.
			continue
		}
		ref := fleet.KubeconfigRef(d.fleet.Cluster(name))
		objs = append(objs, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: ref.Name, Namespace: ns},
			Data:       map[string][]byte{ref.Key: d.members[name].Kubeconfig()},
		})
	}
	objs = append(objs, &flotillav1.FleetRepository{
		ObjectMeta: metav1.ObjectMeta{Name: d.repoName, Namespace: ns},
		Spec: flotillav1.FleetRepositorySpec{
			URL:            d.repo.HTTPURL,
			Ref:            flotillav1.GitRef{Branch: d.repo.Branch},
			SecretRef:      &flotillav1.LocalObjectReference{Name: gitSecretName},
			Interval:       &metav1.Duration{Duration: d.opts.Interval},
			DriftInterval:  &metav1.Duration{Duration: d.opts.DriftInterval},
			StatusInterval: &metav1.Duration{Duration: d.opts.StatusInterval},
		},
	})
	for _, obj := range objs {
		if err := d.hubClient.Create(ctx, obj); err != nil {
			return fmt.Errorf("create %T %s on the hub: %w", obj, obj.GetName(), err)
		}
	}
	d.progress.ok("hub: CRDs installed; namespace %s with the Git credentials, %s and FleetRepository %s (%s)",
		ns, plural(len(d.names)-len(d.pullClusters()), "kubeconfig Secret"), d.repoName, since(start))
	return nil
}

// writeCRDs writes the embedded CustomResourceDefinitions into dir.
func writeCRDs(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write the CRDs: %w", err)
	}
	files, err := fs.Glob(crd.Bases, "bases/*.yaml")
	if err != nil {
		return fmt.Errorf("write the CRDs: list the embedded files: %w", err)
	}
	if len(files) == 0 {
		return fmt.Errorf("write the CRDs: none embedded; run `make generate` and rebuild flotilla")
	}
	for _, f := range files {
		data, err := crd.Bases.ReadFile(f)
		if err != nil {
			return fmt.Errorf("write the CRDs: read embedded %s: %w", f, err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), data, 0o600); err != nil {
			return fmt.Errorf("write the CRDs: %w", err)
		}
	}
	return nil
}
