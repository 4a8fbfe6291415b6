package lint

import (
	"os"
	"path/filepath"
)

// readDoc reads docs/checks.md of this repository.
func readDoc() (string, error) {
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "checks.md"))
	return string(data), err
}
